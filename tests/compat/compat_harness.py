"""Load a ported PyTorch script twice, as written (tinygrad_cnn) and with its imports put back
to torch, and feed both the same weights and batches.

A script names the framework only between `# imports: begin` and `# imports: end`; the torch
version is the same text with `tinygrad_cnn` replaced by `torch` inside that block, nothing else.
"""
import contextlib
import io
import re
import types
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).parent / "scripts"
BEGIN, END = "# imports: begin\n", "# imports: end\n"


def source(name, flavour):
    """The script's text for ``flavour`` "tinygrad_cnn" (as written) or "torch"."""
    text = (SCRIPTS / f"{name}.py").read_text()
    head, rest = text.split(BEGIN, 1)
    block, tail = rest.split(END, 1)
    if flavour == "torch":
        block = block.replace("tinygrad_cnn", "torch")
    return head + BEGIN + block + END + tail


def load(name, flavour):
    """The script executed as a module of its own."""
    module = types.ModuleType(f"compat_{name}_{flavour}")
    module.__file__ = str(SCRIPTS / f"{name}.py")
    exec(compile(source(name, flavour), module.__file__, "exec"), module.__dict__)
    return module


def copy_weights(torch_model, tc_model):
    """Give the tinygrad_cnn model the torch model's weights and buffers."""
    state = {k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()}
    tc_model.load_state_dict(state)


class Recording:
    """A loss module that records each value it returns (test instrumentation only)."""

    def __init__(self, criterion):
        self.criterion = criterion
        self.values = []

    def __call__(self, *args):
        loss = self.criterion(*args)
        self.values.append(float(loss.item()))
        return loss

    def to(self, device):
        return self


def printed_losses(fn, *args):
    """Run ``fn`` and return the numbers its log lines print after 'Loss: '."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args)
    return [float(m) for m in re.findall(r"Loss: ([0-9.eE+-]+)", out.getvalue())]


def digits(n, size=28, channels=1, mean=0.0, std=1.0, offset=0):
    """``n`` real digits of the bundled MNIST sample as float32 (n, C, size, size), int64 labels."""
    from tinygrad_cnn.data import MNISTSample

    sample = MNISTSample(train=True)
    images = np.asarray(sample.images[offset:offset + n], dtype=np.float32) / 255.0
    images = images.reshape(n, 1, 28, 28)
    pad = (size - 28) // 2
    if pad:
        images = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    images = np.repeat(images, channels, axis=1)
    images = ((images - np.float32(mean)) / np.float32(std)).astype(np.float32)
    labels = np.asarray(sample.labels[offset:offset + n], dtype=np.int64)
    return images, labels


def loaders(images, labels, batch_size):
    """The same unshuffled batches as a torch DataLoader and a tinygrad_cnn one."""
    import torch
    import torch.utils.data as tud

    import tinygrad_cnn as tc
    import tinygrad_cnn.utils.data as tcd

    t = tud.DataLoader(tud.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)),
                       batch_size=batch_size)
    c = tcd.DataLoader(tcd.TensorDataset(tc.tensor(images), tc.tensor(labels)),
                       batch_size=batch_size)
    return t, c
