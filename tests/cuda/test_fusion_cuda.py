"""Inference's fused conv (nn/fusion.py) on "cuda": the batch norm folded on the device's
arrays, the ReLU after the GEMM, against the same block on "cpu"."""
import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import nn


def test_fused_conv_bn_relu_on_the_device_matches_the_cpu():
    rng = np.random.default_rng(0)
    block = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).eval()
    block[1].running_mean = tc.tensor(rng.normal(size=4).astype(np.float32))
    block[1].running_var = tc.tensor(rng.uniform(0.5, 2.0, 4).astype(np.float32))
    x = rng.normal(size=(2, 2, 5, 5)).astype(np.float32)
    with tc.no_grad():
        want = block(tc.tensor(x)).numpy()
        got = block.to("cuda")(tc.tensor(x).to("cuda"))
    assert got.device == "cuda"
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert (want == 0).any() and (want > 0).any()


def test_fused_bn_relu_on_the_device_matches_the_cpu():
    """A batch norm then ReLU with no conv before (pre-activation): on "cuda" the ReLU runs
    after the device's affine map; the values are the CPU's."""
    rng = np.random.default_rng(1)
    block = nn.Sequential(nn.BatchNorm2d(3), nn.ReLU()).eval()
    block[0].running_mean = tc.tensor(rng.normal(size=3).astype(np.float32))
    block[0].running_var = tc.tensor(rng.uniform(0.5, 2.0, 3).astype(np.float32))
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    with tc.no_grad():
        want = block(tc.tensor(x)).numpy()
        got = block.to("cuda")(tc.tensor(x).to("cuda"))
    assert got.device == "cuda"
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)
    assert (want == 0).any() and (want > 0).any()
