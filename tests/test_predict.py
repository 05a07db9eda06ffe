"""predict: the user's own image files, prepared as MNIST digits were, classified as the
model classifies the original digits."""
import json

import numpy as np
import pytest

from tinygrad_cnn.__main__ import main as cli
from tinygrad_cnn.data import MNISTSample
from tinygrad_cnn.predict import classify, load_trained, predict_files
from tinygrad_cnn.preprocess import ImageError, load_digit, mnist_like
from tinygrad_cnn.train import TrainConfig, fit

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """LeNet-5 after 60 steps of 50 on the bundled sample (about 80% held-out accuracy)."""
    out = tmp_path_factory.mktemp("run")
    fit(TrainConfig(model="lenet5", dataset="mnist-sample", epochs=1, batch_size=50, lr=3e-3,
                    seed=1, out=str(out), steps_per_epoch=60, progress=False, plots=False),
        log=lambda *a: None)
    return out


@pytest.fixture(scope="module")
def confident_digits(run_dir):
    """Held-out digits (uint8 28x28), the first two of each class that the model classifies
    correctly with probability > 0.9, and its class for each."""
    model, _ = load_trained(run_dir)
    held_out = MNISTSample(train=False)
    top = classify(model, held_out.images[:, None].astype(np.float32) / 255, k=1)
    keep = []
    for c in range(10):
        sure = [i for i, t in enumerate(top) if t[0][0] == c == held_out.labels[i] and
                t[0][2] > 0.9]
        keep += sure[:2]
    assert len(keep) >= 16
    return held_out.images[keep], [top[i][0][0] for i in keep]


def _save(array, path, mode="L"):
    Image.fromarray(array).convert(mode).save(path)
    return str(path)


def _resized(digit, size):
    return np.asarray(Image.fromarray(digit).resize((size, size), Image.BICUBIC))


VARIANTS = {
    "original-28": lambda d, p: _save(d, p),
    "larger-98": lambda d, p: _save(_resized(d, 98), p),
    "smaller-21-rgb": lambda d, p: _save(_resized(d, 21), p, "RGB"),
    "inverted-64-rgb": lambda d, p: _save(255 - _resized(d, 64), p, "RGB"),
    "off-centre-on-paper": lambda d, p: _save(_on_paper(d), p, "RGB"),
    "ink-on-transparent": lambda d, p: _ink_on_transparent(d, p),
}


def _on_paper(digit):
    """Dark ink on a light grey 150x200 page, the digit near a corner at twice its size."""
    page = np.full((150, 200), 230, np.uint8)
    page[5:61, 130:186] = 230 - (_resized(digit, 56).astype(np.int32) * 200 // 255)
    return page


def _ink_on_transparent(digit, path):
    """Black strokes whose alpha is the ink, on a fully transparent background."""
    big = _resized(digit, 70)
    rgba = np.zeros(big.shape + (4,), np.uint8)
    rgba[..., 3] = big
    Image.fromarray(rgba, "RGBA").save(path)
    return str(path)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_are_classified_as_the_originals(variant, run_dir, confident_digits, tmp_path):
    digits, expected = confident_digits
    paths = [VARIANTS[variant](d, tmp_path / f"{k}.png") for k, d in enumerate(digits)]
    model, info = load_trained(run_dir)
    got = [top[0][0] for _, top in predict_files(model, paths, k=3, classes=info["classes"])]
    assert got == expected


def test_an_mnist_digit_is_left_almost_as_it_was():
    """MNIST digits are already framed this way: preparing one changes it very little."""
    digits = MNISTSample(train=False).images[:50].astype(np.float32) / 255
    diffs = [np.abs(mnist_like(d) - d).mean() for d in digits]
    assert max(diffs) < 0.01
    out = mnist_like(digits[0])
    assert out.shape == (28, 28) and out.dtype == np.float32 and out.max() == pytest.approx(1)


def test_the_digit_is_fitted_to_20_pixels_and_centred_by_mass(tmp_path):
    page = np.full((300, 120), 255, np.uint8)
    page[200:290, 10:40] = 0                                # a tall dark bar, off-centre
    digit = load_digit(_save(page, tmp_path / "bar.png"))[0]
    rows, cols = np.nonzero(digit > 0.5)
    assert rows.max() - rows.min() + 1 == 20
    cy = (digit.sum(1) * np.arange(28)).sum() / digit.sum()
    cx = (digit.sum(0) * np.arange(28)).sum() / digit.sum()
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_a_blank_image_is_an_error_naming_it(tmp_path):
    path = _save(np.full((40, 40), 255, np.uint8), tmp_path / "blank.png")
    with pytest.raises(ImageError, match="blank.png.*no digit"):
        load_digit(path)


def test_cli_prints_the_top_3_and_json(run_dir, confident_digits, tmp_path, capsys):
    digits, expected = confident_digits
    paths = [_save(255 - _resized(d, 50), tmp_path / f"d{k}.png") for k, d in enumerate(digits[:3])]
    assert cli(["predict", "--checkpoint", str(run_dir), *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for line, path, label in zip(lines, paths, expected):
        name, _, rest = line.partition(": ")
        assert name == path
        shown = [(part.split(" (")[0], float(part.split(" (")[1].rstrip(")")))
                 for part in rest.split(", ")]
        assert len(shown) == 3 and shown[0][0] == str(label)
        probs = [p for _, p in shown]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-3
    assert cli(["predict", "--checkpoint", str(run_dir / "checkpoint_epoch001.tgc"), "--json",
                *paths]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["file"] for d in doc] == paths
    assert [d["top"][0]["class"] for d in doc] == expected[:3]
    assert all(len(d["top"]) == 3 for d in doc)


@pytest.mark.parametrize("make, reason", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b"this is not a picture"), "not a readable image"),
    (lambda p: p.write_bytes(_png_bytes()[:40]), "not a readable image"),
])
def test_a_missing_or_unreadable_image_is_a_one_line_error(make, reason, run_dir, tmp_path,
                                                           capsys):
    good = _save(np.zeros((28, 28), np.uint8) + np.eye(28, dtype=np.uint8) * 255,
                 tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    make(bad)
    assert cli(["predict", "--checkpoint", str(run_dir), good, str(bad)]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0]
    assert reason in lines[0]


def _png_bytes():
    import io

    buf = io.BytesIO()
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(buf, format="PNG")
    return buf.getvalue()


def test_a_checkpoint_that_is_not_one_is_an_error(tmp_path, capsys):
    path = tmp_path / "x.tgc"
    path.write_bytes(b"junk")
    img = _save(np.eye(28, dtype=np.uint8) * 255, tmp_path / "i.png")
    assert cli(["predict", "--checkpoint", str(path), img]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert cli(["predict", "--checkpoint", str(tmp_path / "none.tgc"), img]) == 1
    assert "no such checkpoint" in capsys.readouterr().err


def test_the_run_wrote_model_safetensors_with_the_last_epochs_weights(run_dir):
    import tinygrad_cnn as tc

    weights = tc.load(run_dir / "model.safetensors")
    model, _ = load_trained(run_dir / "checkpoint_epoch001.tgc")
    state = model.state_dict()
    assert set(weights) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(weights[key], value.numpy())


def test_the_runs_safetensors_names_its_model_and_dataset(run_dir, confident_digits, tmp_path,
                                                          capsys):
    from tinygrad_cnn import safetensors_io

    digits, expected = confident_digits
    img = _save(digits[0], tmp_path / "d.png")
    weights = run_dir / "model.safetensors"
    assert safetensors_io.metadata(weights) == {"model": "lenet5", "dataset": "mnist-sample"}
    assert cli(["predict", "--checkpoint", str(weights), "--json", img]) == 0
    assert json.loads(capsys.readouterr().out)[0]["top"][0]["class"] == expected[0]


def test_weights_only_safetensors_needs_model(run_dir, confident_digits, tmp_path, capsys):
    import tinygrad_cnn as tc

    digits, expected = confident_digits
    img = _save(digits[0], tmp_path / "d.png")
    weights = str(tmp_path / "bare.safetensors")       # no metadata: architecture unknown
    tc.save(tc.load(run_dir / "model.safetensors"), weights)
    assert cli(["predict", "--checkpoint", weights, img]) == 1
    assert "--model" in capsys.readouterr().err
    assert cli(["predict", "--checkpoint", weights, "--model", "lenet5", "--json", img]) == 0
    assert json.loads(capsys.readouterr().out)[0]["top"][0]["class"] == expected[0]
