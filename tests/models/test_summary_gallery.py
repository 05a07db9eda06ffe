"""tc.summary over the gallery: nested containers, every parameter accounted for, layers the
eval forward skips listed apart, and FLOPs that agree with torchvision's published counts."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import models
from torchvision_import import import_torchvision_models


@pytest.mark.parametrize("name", list(models.DIGIT_MODELS))
def test_every_parameter_is_in_a_row(name):
    model = models.get_model(name)
    report = tc.summary(model, (1, 1, 28, 28), print_fn=None)
    assert report.total_params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in report.rows + report.not_run) == report.total_params
    assert report.rows[-1].output_shape == (1, 10)
    assert bool(report.not_run) == (name == "googlenet")        # the aux heads: training only
    assert all(r.name.startswith("aux") for r in report.not_run)
    text = str(report)
    assert "not run by the eval forward" in text or name != "googlenet"
    assert f"Total params: {report.total_params:,}" in text


def test_adaptive_pool_flops_count_uneven_bins():
    """14x14 -> 4x4: bins [0,4) [3,7) [7,11) [10,14) overlap, 16 rows and columns in all."""
    model = tc.nn.Sequential(tc.nn.AdaptiveAvgPool2d((4, 4)))
    report = tc.summary(model, (2, 3, 14, 14), print_fn=None)
    assert report.rows[0].flops == 2 * 3 * 16 * 16


@pytest.mark.slow
@pytest.mark.parametrize("name, weights", [("alexnet", "AlexNet_Weights"),
                                           ("googlenet", "GoogLeNet_Weights"),
                                           ("resnet18", "ResNet18_Weights"),
                                           ("densenet121", "DenseNet121_Weights")])
def test_flops_match_torchvision_documented_ops(name, weights):
    """torchvision documents each model's GFLOPS at 224x224 as multiply-adds of its convs and
    linears (``_ops``, 3 decimals); the summary counts a multiply-add as 2 FLOPs."""
    tv_models = import_torchvision_models()
    if tv_models is None:
        pytest.skip("torchvision not installed")
    report = tc.summary(models.TORCHVISION_MODELS[name](), (1, 3, 224, 224), print_fn=None)
    macs = sum(r.flops for r in report.rows if r.kind in ("Conv2d", "Linear")) / 2e9
    documented = getattr(tv_models, weights).IMAGENET1K_V1.meta["_ops"]
    np.testing.assert_allclose(macs, documented, atol=0.0005 + 1e-9)


def test_architectures_example_counts_the_notes_1x1_saving(capsys):
    """examples/architectures.py: the 5x5 branch on 28x28x192 costs 28*28*32*5*5*192
    multiplications directly and 28*28*16*192 + 28*28*32*5*5*16 behind a 1x1 reduction."""
    import runpy
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "examples" / "architectures.py"
    figures = runpy.run_path(str(example))["one_by_one_saving"]()
    assert figures["direct"] == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    assert figures["reduced"] == 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16 == 12_443_648
    # inception (3a) of the paper: 1x1 64, 3x3 128 (reduce 96), 5x5 32 (reduce 16), pool proj 32
    assert figures["module"] == 28 * 28 * (192 * 64 + 192 * 96 + 96 * 9 * 128 + 192 * 16
                                           + 16 * 25 * 32 + 192 * 32)
    assert figures["naive"] == 28 * 28 * 192 * (64 + 9 * 128 + 25 * 32)
    assert "fewer multiplications" in capsys.readouterr().out
