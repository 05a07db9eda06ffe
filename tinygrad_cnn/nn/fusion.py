"""Inference's fused conv: a Conv2d, the eval-mode BatchNorm2d after it and a ReLU, as one conv.

Where nothing needs a gradient, ``conv -> batch norm -> ReLU`` is one affine map per output
channel after the conv, then a clamp: the batch norm's scale s = weight / sqrt(running_var +
eps) folds into the conv's weights (w * s per output channel) and its shift into the bias
((b - running_mean) * s + bias), and the ReLU is applied as the conv stores its output
(the CPU's vector tiles clamp each sum in registers). One pass over the activations instead
of three, and no intermediate arrays: PyTorch's ``torch.nn.utils.fusion.fuse_conv_bn_eval``
folds the same way.

``conv_bn_relu(x, conv, bn, relu)`` is the entry point; Sequential finds such runs among its
children by itself (``sequential_forward``), and where a 2x2 stride-2 MaxPool2d follows the
ReLU, runs it in the same op too (``max_pool``: the backend pools each block of images as the
conv computes it, so the conv's output is never written whole; the values are the modules').
A batch norm and ReLU with no conv before them (the pre-activation order of DenseNet and
PreAct-ResNet), or after a conv that does not fold (in training), are ``bn_relu(x, bn,
relu)``: the ReLU is applied as the batch norm writes its values, one pass instead of two,
and exact; in training its gradient mask is taken in the batch norm's backward passes
(ops/batchnorm.py), with no pass of its own either. bn_relu runs the modules one by one only
for a hook, a subclass or an exporter's trace. The conv's folding runs the modules one by
one, unfused, whenever it could change what the user sees: autograd recording (grad enabled and a tensor requiring grad), a batch norm in training
mode or without running statistics, a forward hook on any of them, an exporter tracing the
pass (tinygrad_cnn.onnx), or a subclass of the layers (its forward may differ). Folding
rounds once more (w * s before the sum), so fused convs agree with the unfused modules to
float rounding, not bit for bit; bn_relu gives their very values.
"""
from tinygrad_cnn import grad_mode, tracing
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn.activation import ReLU
from tinygrad_cnn.nn.conv import Conv2d
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.nn.normalization import BatchNorm2d
from tinygrad_cnn.nn.pooling import MaxPool2d
from tinygrad_cnn.tensor import Tensor


def conv_bn_relu(x, conv, bn=None, relu=False, max_pool=None):
    """``conv(x)``, then ``bn`` (a BatchNorm2d, or None) and a ReLU: ``relu`` is False, True
    (F.relu) or the model's ReLU module. One fused conv where fusing is exact up to rounding
    (see the module docstring), the modules one by one otherwise; a ReLU module with a hook
    (or of a subclass) runs on its own after the fused conv and batch norm. ``max_pool``, a
    MaxPool2d module that _fusable_pool accepts, then pools the result: in the fused conv
    where that fuses, else as its own module."""
    module = relu if isinstance(relu, Module) else None
    in_conv = relu is True or (module is not None and type(module) is ReLU
                               and not module._forward_hooks)
    if max_pool is not None and not (in_conv and x.ndim == 4 and _fusable(x, conv, bn)):
        return max_pool(conv_bn_relu(x, conv, bn, relu))
    if not _fusable(x, conv, bn):
        out = conv(x)
        if bn is not None and relu is not False:
            return bn_relu(out, bn, relu)
        out = bn(out) if bn is not None else out
        if module is not None:
            return module(out)
        return F.relu(out) if relu else out
    weight, bias = conv.weight, conv.bias
    if bn is not None:
        weight, bias = _folded(conv, bn)
    out = F.conv2d_then_relu(x, weight, bias, conv.stride, conv.padding, conv.dilation,
                             conv.groups, relu=in_conv, max_pool=max_pool is not None)
    return module(out) if module is not None and not in_conv else out


def bn_relu(x, bn, relu=True):
    """``bn(x)`` (a BatchNorm2d), then a ReLU: ``relu`` True (F.relu) or the model's ReLU
    module. One op (BatchNorm2d.forward_then_relu), in training too, unless a hook, a
    subclass or an exporter's trace needs the modules one by one."""
    module = relu if isinstance(relu, Module) else None
    if (module is not None and (type(module) is not ReLU or module._forward_hooks)) or \
            type(bn) is not BatchNorm2d or bn._forward_hooks or tracing.current() is not None:
        out = bn(x)
        return module(out) if module is not None else F.relu(out)
    return bn.forward_then_relu(x)


def sequential_forward(modules, x):
    """Sequential's forward over ``modules``: each run of Conv2d, then optionally
    BatchNorm2d, then optionally ReLU is conv_bn_relu; a BatchNorm2d then ReLU with no conv
    before is bn_relu; a ReLU then a MaxPool2d (after a conv that does not fuse, or on its
    own) runs as the pool then the ReLU (_pool_then_relu); every other module is called."""
    i = 0
    while i < len(modules):
        conv = modules[i]
        if type(conv) is BatchNorm2d and i + 1 < len(modules) and type(modules[i + 1]) is ReLU:
            x = bn_relu(x, conv, modules[i + 1])
            i += 2
            continue
        if _pool_then_relu(modules, i):
            x = _max_pool_relu(x, modules[i + 1], modules[i])
            i += 2
            continue
        if type(conv) is not Conv2d:
            x = conv(x)
            i += 1
            continue
        bn = modules[i + 1] if i + 1 < len(modules) and type(modules[i + 1]) is BatchNorm2d \
            else None
        after = i + 1 + (bn is not None)
        relu = modules[after] if after < len(modules) and type(modules[after]) is ReLU \
            else False
        if _pool_then_relu(modules, after) and not _fusable(x, conv, bn):
            x = conv_bn_relu(x, conv, bn)
            i = after
            continue
        pool = modules[after + 1] if relu is not False and after + 1 < len(modules) else None
        if _fusable_pool(pool):
            x = conv_bn_relu(x, conv, bn, relu, max_pool=pool)
            i = after + 2
            continue
        x = conv_bn_relu(x, conv, bn, relu)
        i = after + (relu is not False)
    return x


def _fusable_pool(pool):
    """True for an exact MaxPool2d of 2x2 windows, stride 2, no padding or dilation, floor
    mode, no indices and no forward hooks: the pool the fused conv applies."""
    return type(pool) is MaxPool2d and not pool._forward_hooks and not pool.return_indices \
        and not pool.ceil_mode and pool.kernel_size in (2, (2, 2)) \
        and pool.stride in (2, (2, 2)) and pool.padding in (0, (0, 0)) \
        and pool.dilation in (1, (1, 1))


def _max_pool_relu(x, pool, relu):
    """relu(pool(x)) for _pool_then_relu's pair: one op (F.max_pool2d_then_relu) on a batch,
    the modules one after the other for an unbatched input or an exporter's trace."""
    if x.ndim != 4 or tracing.current() is not None:
        return relu(pool(x))
    return F.max_pool2d_then_relu(x, pool.kernel_size, pool.stride, pool.padding,
                                  pool.dilation, pool.ceil_mode)


def _pool_then_relu(modules, i):
    """True when modules[i] is a ReLU and modules[i + 1] a MaxPool2d that may run in the
    other order: max pooling and ReLU commute over windows that hold an element of the
    input (both are monotone: the largest of the clamped values is the clamped largest, NaN
    too), and so do their gradients (the pool's input gradient goes to the window's maximum,
    which the ReLU passes where it is above 0; where it is not, both orders give 0). The
    ReLU then clamps the pooled values, a quarter of them behind a 2x2 pool, forward and
    backward. Not for a dilated pool (a window may then hold padding only: -inf in torch's
    order, 0 in the other), a pool that returns its indices (where the maximum is 0 or
    below, the clamped window's first zero is another element), forward hooks on either, or
    subclasses. An undilated window always holds an element: its padding is at most half
    the kernel, and a last window starting in the padding is dropped."""
    if i + 1 >= len(modules):
        return False
    relu, pool = modules[i], modules[i + 1]
    return type(relu) is ReLU and type(pool) is MaxPool2d and not pool.return_indices \
        and pool.dilation in (1, (1, 1)) and not relu._forward_hooks \
        and not pool._forward_hooks


def _fusable(x, conv, bn):
    """True when the fused conv gives what the modules would (the module docstring's list)."""
    modules = (conv,) if bn is None else (conv, bn)
    if type(conv) is not Conv2d or not _inference_only(x, modules):
        return False
    return bn is None or _bn_ready(bn, x.ndim, conv.out_channels, conv.weight.dtype)


def _inference_only(x, modules):
    """True when nothing records the pass: no forward hook on the modules, no exporter
    tracing, and no autograd recording (grad enabled with x or a parameter requiring
    grad)."""
    if any(m._forward_hooks for m in modules) or tracing.current() is not None:
        return False
    return not (grad_mode.is_enabled() and (x.requires_grad or any(
        p.requires_grad for m in modules for p in m.parameters())))


def _bn_ready(bn, ndim, channels, dtype):
    """True when bn is an exact BatchNorm2d in eval mode with running statistics that takes
    an input of ``ndim`` dimensions, ``channels`` channels and ``dtype`` as the module would
    (4-D, its channel count, its tensors all of that dtype); otherwise the modules run, and
    bn raises its own error."""
    if type(bn) is not BatchNorm2d or bn.training or bn.running_mean is None \
            or bn.running_var is None:
        return False
    dtypes = {t.dtype for t in (bn.running_mean, bn.running_var, bn.weight, bn.bias)
              if t is not None}
    return ndim == 4 and bn.num_features == channels and dtypes == {dtype}


def _folded(conv, bn):
    """(weight, bias) of conv with bn (eval mode) folded in, in the conv's dtype and device.
    Computed on the backend's arrays, not by Tensor ops: a dozen ops' dispatch cost more
    than the conv itself at batch 1 (317 against 207 us for 64 -> 64 at 7x7)."""
    be, arr = conv.weight.backend, (lambda t: t._array)
    scale = be.div(1.0, be.sqrt(be.add(arr(bn.running_var), bn.eps)))
    if bn.weight is not None:
        scale = be.mul(scale, arr(bn.weight))
    shift = be.neg(be.mul(arr(bn.running_mean), scale))
    if conv.bias is not None:
        shift = be.add(shift, be.mul(arr(conv.bias), scale))
    if bn.bias is not None:
        shift = be.add(shift, arr(bn.bias))
    weight = be.mul(arr(conv.weight), be.reshape(scale, (-1, 1, 1, 1)))
    device = conv.weight.device
    return Tensor._wrap(weight, device), Tensor._wrap(shift, device)
