"""Inference's fused blocks (nn/fusion.py) on "cuda", against the same block on "cpu": the
conv with its batch norm folded on the device's arrays and the ReLU after the GEMM, and the
batch norm then ReLU with no conv before (pre-activation), the ReLU after the device's
affine map; and the conv with the max pool after it (the device's conv, then its pool)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn


@pytest.mark.parametrize("make, x_shape, seed, rtol", [
    (lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),
     (2, 2, 5, 5), 0, 1e-5),
    (lambda: nn.Sequential(nn.BatchNorm2d(3), nn.ReLU()), (2, 3, 4, 4), 1, 1e-6),
    (lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                           nn.MaxPool2d(2)), (2, 2, 7, 6), 2, 1e-5),
], ids=["conv-bn-relu", "bn-relu", "conv-bn-relu-max-pool"])
def test_fused_block_on_the_device_matches_the_cpu(make, x_shape, seed, rtol):
    rng = np.random.default_rng(seed)
    tc.manual_seed(seed)                        # the conv's initial weights, as torch's
    block = make().eval()
    bn = next(m for m in block if isinstance(m, nn.BatchNorm2d))
    bn.running_mean = tc.tensor(rng.normal(size=bn.num_features).astype(np.float32))
    bn.running_var = tc.tensor(rng.uniform(0.5, 2.0, bn.num_features).astype(np.float32))
    x = rng.normal(size=x_shape).astype(np.float32)
    with tc.no_grad():
        want = block(tc.tensor(x)).numpy()
        got = block.to("cuda")(tc.tensor(x).to("cuda"))
    assert got.device == "cuda"
    np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=1e-6)
    assert (want == 0).any() and (want > 0).any()
