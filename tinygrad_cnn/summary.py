"""tc.summary: a Keras-style table of each layer's output shape, parameters and FLOPs."""
from dataclasses import dataclass, field

import numpy as np

from tinygrad_cnn import nn
from tinygrad_cnn.grad_mode import no_grad
from tinygrad_cnn.kernels.geometry import adaptive_bounds
from tinygrad_cnn.tensor import Tensor


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int
    flops: int


@dataclass
class Summary:
    """The rows of the table plus totals; ``str()`` renders the table.

    ``rows`` are the leaf layers in the order the forward called them; ``not_run`` the leaf
    layers the eval forward never called (e.g. GoogLeNet's auxiliary heads, which run only
    in training), whose parameters still count in the totals.
    """
    input_shape: tuple
    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    not_run: list = field(default_factory=list)

    @property
    def total_flops(self):
        return sum(r.flops for r in self.rows)

    def __str__(self):
        width = max([34] + [len(r.name) + len(r.kind) + 5 for r in self.rows + self.not_run])
        line = "=" * (width + 52)
        out = [f"{'Layer (type)':<{width}}{'Output Shape':<22}{'Param #':>12}{'FLOPs':>18}", line]
        for r in self.rows:
            out.append(f"{r.name + ' (' + r.kind + ')':<{width}}{str(r.output_shape):<22}"
                       f"{r.params:>12,}{r.flops:>18,}")
        if self.not_run:
            out.append("not run by the eval forward (training only):")
            for r in self.not_run:
                out.append(f"{r.name + ' (' + r.kind + ')':<{width}}{'-':<22}{r.params:>12,}"
                           f"{'-':>18}")
        out += [line,
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                f"Forward FLOPs for input {self.input_shape}: {self.total_flops:,}",
                "-" * (width + 52)]
        return "\n".join(out)


def _layer_flops(module, inp, out):
    """Floating-point operations of one forward call (a multiply-add counts as 2)."""
    n_out = int(np.prod(out.shape))
    if isinstance(module, nn.Conv2d):
        per_out = 2 * (module.in_channels // module.groups) * int(np.prod(module.kernel_size))
        return n_out * per_out + (n_out if module.bias is not None else 0)
    if isinstance(module, nn.Linear):
        rows = n_out // module.out_features
        return 2 * rows * module.in_features * module.out_features + (
            n_out if module.bias is not None else 0)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = module.kernel_size
        return n_out * int(np.prod(k if isinstance(k, tuple) else (k, k)))
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return _adaptive_avg_flops(inp.shape, out.shape)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return 2 * n_out
    if isinstance(module, (nn.Flatten, nn.Identity, nn.Dropout)):
        return 0
    return n_out


def _adaptive_avg_flops(in_shape, out_shape):
    """Adds over each output's window (torch's uneven bins may overlap) plus one divide."""
    (N, C, H, W), (oh, ow) = in_shape, out_shape[2:]
    rows = [adaptive_bounds(i, H, oh) for i in range(oh)]
    cols = [adaptive_bounds(j, W, ow) for j in range(ow)]
    per_plane = sum((y1 - y0) * (x1 - x0) for y0, y1 in rows for x0, x1 in cols)
    return N * C * per_plane


def summary(model, input_shape, dtype=np.float32, print_fn=print):
    """Run one forward pass (eval mode) on zeros of ``input_shape`` and tabulate every leaf
    layer. Functional calls inside a forward (F.relu, cat) are not layers: no rows, no FLOPs."""
    report = Summary(tuple(input_shape))
    params = list(model.parameters())
    report.total_params = sum(p.numel() for p in params)
    report.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    handles, leaves, called = [], [], set()
    for name, module in model.named_modules():
        if module is model or any(True for _ in module.children()):
            continue

        leaves.append((name, module))

        def hook(mod, inputs, output, name=name):
            called.add(name)
            own = sum(p.numel() for p in mod.parameters())
            report.rows.append(LayerRow(name, type(mod).__name__, tuple(output.shape), own,
                                        _layer_flops(mod, inputs[0], output)))

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            device = params[0].device if params else "cpu"
            model(Tensor(np.zeros(input_shape, dtype), dtype=dtype, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    report.not_run = [LayerRow(name, type(m).__name__, None, sum(p.numel() for p in m.parameters()),
                               0) for name, m in leaves if name not in called]
    if print_fn is not None:
        print_fn(str(report))
    return report
