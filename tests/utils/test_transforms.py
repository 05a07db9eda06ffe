"""tinygrad_cnn.transforms against torchvision's functional transforms (same parameters,
same pixels) and the random transforms' parameter draws."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import transforms as T
from tv import torchvision_functional

Image = pytest.importorskip("PIL.Image")
torch = pytest.importorskip("torch")


def _image(seed, h=13, w=17, mode="L"):
    rng = np.random.default_rng(seed)
    shape = (h, w) if mode == "L" else (h, w, 3)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_to_tensor_and_normalize_match_torchvision(mode):
    TVF = torchvision_functional()
    img = _image(0, mode=mode)
    ours, theirs = T.ToTensor()(img), TVF.to_tensor(img)
    assert ours.dtype == np.float32 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    C = ours.shape[0]
    mean, std = [0.1307, 0.2, 0.3][:C], [0.3081, 0.5, 0.25][:C]
    pipeline = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    np.testing.assert_allclose(pipeline(img).numpy(), TVF.normalize(theirs, mean, std).numpy(),
                               rtol=1e-6, atol=1e-6)
    arr = np.asarray(img)
    np.testing.assert_array_equal(T.ToTensor()(arr).numpy(), ours.numpy())


def test_normalize_errors():
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize([0.5], [0.0])(tc.Tensor.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="apply ToTensor first"):
        T.Normalize([0.5], [1.0])(np.zeros((2, 2)))


@settings(max_examples=20)
@given(seed=st.integers(0, 1000), angle=st.floats(-60, 60), tx=st.integers(-4, 4),
       ty=st.integers(-4, 4), scale=st.floats(0.7, 1.3), shx=st.floats(-15, 15),
       shy=st.floats(-15, 15))
def test_affine_and_rotate_match_torchvision_pixel_for_pixel(seed, angle, tx, ty, scale, shx,
                                                             shy):
    TVF = torchvision_functional()
    img = _image(seed)
    args = (angle, [tx, ty], scale, [shx, shy])
    np.testing.assert_array_equal(np.asarray(T.functional.affine(img, *args, fill=9)),
                                  np.asarray(TVF.affine(img, *args, fill=9)))
    x = np.asarray(img)[None].astype(np.float32) / 255
    _equal_but_at_ties(T.functional.affine(tc.Tensor(x), *args, fill=0.5).numpy(),
                       TVF.affine(torch.tensor(x), *args, fill=0.5).numpy(), angle, (tx, ty),
                       scale, (shx, shy))
    tc.manual_seed(seed)
    ours = T.RandomRotation((angle, angle), fill=3)(img)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(TVF.rotate(img, angle, fill=3)))
    tc.manual_seed(seed)
    ours_t = T.RandomRotation((angle, angle))(tc.Tensor(x))
    _equal_but_at_ties(ours_t.numpy(), TVF.rotate(torch.tensor(x), angle).numpy(), -angle,
                       (0, 0), 1.0, (0.0, 0.0))


def _equal_but_at_ties(ours, theirs, angle, translate, scale, shear):
    """Pixel-equal, except where the source coordinate lies within 1e-4 of a rounding tie
    (x.5): torchvision finds those in float32 by a GEMM whose rounding we cannot copy."""
    H, W = ours.shape[-2:]
    m = T.functional._inverse_affine_matrix([0.0, 0.0], angle, translate, scale, shear)
    ys, xs = np.meshgrid(np.arange(H) - H / 2 + 0.5, np.arange(W) - W / 2 + 0.5, indexing="ij")
    sx = m[0] * xs + m[1] * ys + m[2] + W / 2 - 0.5
    sy = m[3] * xs + m[4] * ys + m[5] + H / 2 - 0.5
    tie = (np.abs(sx % 1 - 0.5) < 1e-4) | (np.abs(sy % 1 - 0.5) < 1e-4)
    differ = (ours != theirs).any(axis=0)
    assert not (differ & ~tie).any(), f"pixels differ away from rounding ties: {np.argwhere(differ & ~tie)}"


@pytest.mark.parametrize("padding_mode", ["constant", "edge", "reflect", "symmetric"])
def test_random_crop_is_pad_then_crop_at_a_drawn_corner(padding_mode):
    TVF = torchvision_functional()
    img = _image(3, 6, 7)
    seen = set()
    for seed in range(12):
        tc.manual_seed(seed)
        ours = T.RandomCrop((6, 7), padding=(2, 1), fill=5, padding_mode=padding_mode)(img)
        padded = TVF.pad(img, [2, 1], fill=5, padding_mode=padding_mode)
        arr, full = np.asarray(ours), np.asarray(padded)
        corners = [(i, j) for i in range(full.shape[0] - 5) for j in range(full.shape[1] - 6)
                   if (full[i:i + 6, j:j + 7] == arr).all()]
        assert corners, "the crop is no window of torchvision's padded image"
        seen.add(corners[0])
    assert len(seen) > 3                                   # the corner really is random
    t = T.RandomCrop(4, padding=2)(tc.Tensor(np.ones((3, 6, 6), np.float32)))
    assert t.shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r"Required crop size \(9, 9\) is larger"):
        T.RandomCrop(9)(img)
    assert T.RandomCrop(9, pad_if_needed=True)(img).size == (9, 9)


def test_random_transforms_are_reproducible_from_manual_seed():
    img = _image(1)
    pipeline = T.Compose([T.RandomAffine(20, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=10),
                          T.RandomHorizontalFlip(), T.RandomCrop(10, padding=2), T.ToTensor()])
    tc.manual_seed(4)
    a = pipeline(img).numpy()
    tc.manual_seed(4)
    np.testing.assert_array_equal(pipeline(img).numpy(), a)
    flips = {bool((np.asarray(T.RandomHorizontalFlip()(img)) != np.asarray(img)).any())
             for _ in range(20)}
    assert flips == {True, False}


def test_random_affine_parameter_ranges():
    t = T.RandomAffine(degrees=(-5, 30), translate=(0.1, 0.3), scale=(0.5, 0.6),
                       shear=(-2, 2, 10, 20))
    tc.manual_seed(0)
    for _ in range(50):
        angle, (tx, ty), scale, (sx, sy) = t.get_params(10, 20)
        assert -5 <= angle <= 30 and abs(tx) <= 2 and abs(ty) <= 3
        assert 0.5 <= scale <= 0.6 and -2 <= sx <= 2 and 10 <= sy <= 20
    with pytest.raises(ValueError, match="between 0 and 1"):
        T.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(NotImplementedError, match="nearest"):
        T.RandomRotation(10, interpolation="bilinear")(tc.Tensor.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="interpolation must be one of"):
        T.RandomAffine(10, interpolation="cubic")


def test_hflip_and_arrays_keep_their_type():
    TVF = torchvision_functional()
    img = _image(2, mode="RGB")
    np.testing.assert_array_equal(np.asarray(T.functional.hflip(img)), np.asarray(TVF.hflip(img)))
    arr = np.asarray(img)
    out = T.functional.affine(arr, 10, (1, 0), 1.0, 0.0)
    assert isinstance(out, np.ndarray) and out.shape == arr.shape and out.dtype == np.uint8


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_resize_center_crop_pad_match_torchvision(mode):
    TVF = torchvision_functional()
    img = _image(5, 11, 16, mode)
    for size in (7, (9, 4), 20, (11, 16)):
        for interpolation in ("nearest", "bilinear", "bicubic"):
            ours = T.Resize(size, interpolation=interpolation)(img)
            theirs = TVF.resize(img, size, interpolation=TVF.InterpolationMode(interpolation))
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        x = tc.Tensor(np.asarray(img).reshape(11, 16, -1).transpose(2, 0, 1).astype(np.float32))
        np.testing.assert_array_equal(
            T.Resize(size, interpolation="nearest")(x).numpy(),
            TVF.resize(torch.tensor(x.numpy()), size,
                       interpolation=TVF.InterpolationMode.NEAREST).numpy())
    for size in (5, (4, 9), (15, 20)):
        np.testing.assert_array_equal(np.asarray(T.CenterCrop(size)(img)),
                                      np.asarray(TVF.center_crop(img, size)))
    fill = 7 if mode == "L" else (1, 2, 3)
    for padding in (2, (1, 3), (1, 2, 3, 4)):
        for padding_mode in ("constant", "edge", "reflect", "symmetric"):
            ours = T.Pad(padding, fill, padding_mode)(img)
            theirs = TVF.pad(img, padding, fill, padding_mode)
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    with pytest.raises(NotImplementedError, match="resize the PIL image before ToTensor"):
        T.Resize(5)(tc.Tensor.zeros(1, 8, 8))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_pil_affine_and_rotation_with_smooth_filters_match_torchvision(interpolation):
    TVF = torchvision_functional()
    img = _image(6, mode="RGB")
    mode = TVF.InterpolationMode(interpolation)
    np.testing.assert_array_equal(
        np.asarray(T.functional.affine(img, 17.0, [2, -1], 1.1, [5.0, 3.0], interpolation,
                                       fill=(9, 8, 7))),
        np.asarray(TVF.affine(img, 17.0, [2, -1], 1.1, [5.0, 3.0], mode, fill=[9, 8, 7])))
    np.testing.assert_array_equal(
        np.asarray(T.functional.rotate(img, 33.0, interpolation, expand=True)),
        np.asarray(TVF.rotate(img, 33.0, mode, expand=True)))
