"""IDX parsing: round trips and every kind of corruption, each error naming the file and numbers."""
import gzip
import struct

import numpy as np
import pytest

from tinygrad_cnn.data.idx import IDXFormatError, read_images, read_labels, write_idx


def _write(path, data, gz):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_hand_built_files(tmp_path, helpers, gz):
    images, labels = helpers.synthetic_mnist(7)
    ext = ".gz" if gz else ""
    ip = _write(tmp_path / f"img{ext}", helpers.idx_bytes(images), gz)
    lp = _write(tmp_path / f"lab{ext}", helpers.idx_bytes(labels), gz)
    got_i, got_l = read_images(ip), read_labels(lp)
    assert got_i.dtype == np.uint8 and got_i.shape == (7, 28, 28)
    assert got_l.dtype == np.uint8 and got_l.shape == (7,)
    np.testing.assert_array_equal(got_i, images)
    np.testing.assert_array_equal(got_l, labels)
    got_i[0, 0, 0] = 1  # a writable copy, not a view of the file bytes


@pytest.mark.parametrize("name", ["x-idx3-ubyte.gz", "x-idx3-ubyte"])
def test_write_idx_matches_hand_built_bytes(tmp_path, helpers, name):
    images, _ = helpers.synthetic_mnist(3)
    write_idx(tmp_path / name, images)
    raw = (tmp_path / name).read_bytes()
    assert (gzip.decompress(raw) if name.endswith(".gz") else raw) == helpers.idx_bytes(images)
    np.testing.assert_array_equal(read_images(tmp_path / name), images)


def test_write_idx_refuses_other_dtypes(tmp_path):
    with pytest.raises(ValueError, match="uint8 array of 1 or 3 dims, got float32 shape \\(2, 2\\)"):
        write_idx(tmp_path / "x", np.zeros((2, 2), np.float32))


def test_wrong_magic_names_both_numbers(tmp_path, helpers):
    _, labels = helpers.synthetic_mnist(5)
    path = _write(tmp_path / "train-images-idx3-ubyte.gz", helpers.idx_bytes(labels), True)
    with pytest.raises(IDXFormatError) as e:
        read_images(path)
    msg = str(e.value)
    assert str(path) in msg and "0x00000801 (labels)" in msg and "expected 0x00000803 (images)" in msg


def test_header_disagrees_with_length(tmp_path):
    data = struct.pack(">IIII", 0x803, 60000, 28, 28) + bytes(1000)
    path = _write(tmp_path / "img.gz", data, True)
    with pytest.raises(IDXFormatError) as e:
        read_images(path)
    msg = str(e.value)
    assert str(path) in msg
    assert "header says 60000 images of 28x28 = 47040000 bytes but file has 1000 bytes" in msg


def test_truncated_labels(tmp_path, helpers):
    _, labels = helpers.synthetic_mnist(10)
    path = _write(tmp_path / "lab", helpers.idx_bytes(labels)[:-3], False)
    with pytest.raises(IDXFormatError, match="header says 10 labels = 10 bytes but file has 7 bytes"):
        read_labels(path)


def test_extra_trailing_bytes_are_corrupt_too(tmp_path, helpers):
    _, labels = helpers.synthetic_mnist(4)
    path = _write(tmp_path / "lab", helpers.idx_bytes(labels) + b"\0\0", False)
    with pytest.raises(IDXFormatError, match="4 labels = 4 bytes but file has 6 bytes"):
        read_labels(path)


def test_file_shorter_than_header(tmp_path):
    path = _write(tmp_path / "img.gz", b"\x00\x00\x08\x03\x00", True)
    with pytest.raises(IDXFormatError, match="5 bytes, shorter than the 16-byte header"):
        read_images(path)


def test_zero_sized_images_rejected(tmp_path):
    path = _write(tmp_path / "img", struct.pack(">IIII", 0x803, 3, 0, 28), False)
    with pytest.raises(IDXFormatError, match="images of 0x28 pixels"):
        read_images(path)


def test_bad_gzip_stream_names_file(tmp_path, helpers):
    images, _ = helpers.synthetic_mnist(4)
    good = gzip.compress(helpers.idx_bytes(images))
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(good[:20] + bytes(64) + good[84:])
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(good[: len(good) // 2])
    for path in (corrupt, truncated):
        with pytest.raises(IDXFormatError, match="bad gzip stream") as e:
            read_images(path)
        assert str(path) in str(e.value)


def test_gz_name_but_not_gzip(tmp_path, helpers):
    _, labels = helpers.synthetic_mnist(4)
    path = _write(tmp_path / "lab.gz", helpers.idx_bytes(labels), False)
    with pytest.raises(IDXFormatError, match="name ends in .gz but the file is not gzip"):
        read_labels(path)


def test_idx_error_is_a_value_error():
    assert issubclass(IDXFormatError, ValueError)
