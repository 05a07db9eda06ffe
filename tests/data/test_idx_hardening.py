"""IDX files built to hurt: a small gzip that inflates to far more than its header says, dims
whose product overflows int64, and headers larger than the file could ever hold."""
import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from tinygrad_cnn.data.idx import IDXFormatError, read_images, read_labels

MiB = 1 << 20


def _refused(read, path, *words, limit=None):
    """read(path) raises IDXFormatError naming the file and `words`; peak traced memory stays
    under `limit` (default: 4 x the file size + 2 MiB); the file is unchanged."""
    before = path.read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(IDXFormatError) as e:
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    assert peak <= (limit or 4 * len(before) + 2 * MiB), peak
    assert path.read_bytes() == before
    return msg


def _gzip_stream(path, head, zeros):
    """A gzip file of `head` followed by `zeros` zero bytes, written without holding them."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head)
        for _ in range(zeros // MiB):
            f.write(bytes(MiB))
    return path


def test_gzip_that_inflates_past_its_header_is_not_decompressed(tmp_path):
    """The review's 1.1 MiB file: 10 images declared, 512 MiB of zeros behind them. Only the
    declared bytes + 1 are inflated (the peak stays near the 7,840 declared bytes)."""
    path = _gzip_stream(tmp_path / "img.gz", struct.pack(">IIII", 0x803, 10, 28, 28), 64 * MiB)
    assert path.stat().st_size < MiB
    _refused(read_images, path, "header says 10 images of 28x28 = 7840 bytes but file has "
                                "more than 7840 bytes", limit=2 * MiB)


def test_header_declaring_more_than_a_gzip_can_hold_is_refused_before_allocating(tmp_path):
    path = tmp_path / "img.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 4_000_000_000, 28, 28) + bytes(100)))
    _refused(read_images, path, "header says 4000000000 images of 28x28 = 3136000000000 bytes "
                                "but file has 100 bytes")


@pytest.mark.parametrize("gz", [False, True])
def test_dims_whose_product_overflows_int64(tmp_path, gz):
    data = struct.pack(">IIII", 0x803, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(16)
    path = tmp_path / ("img.gz" if gz else "img")
    path.write_bytes(gzip.compress(data) if gz else data)
    want = (2**32 - 1) ** 3
    _refused(read_images, path, f"= {want} bytes but file has 16 bytes")


def test_raw_file_size_is_compared_without_reading_the_data(tmp_path):
    path = tmp_path / "lab"
    path.write_bytes(struct.pack(">II", 0x801, 5) + bytes(4 * MiB))
    _refused(read_labels, path, "5 labels = 5 bytes but file has 4194304 bytes", limit=MiB)


def test_header_only_gzip_and_empty_files(tmp_path):
    path = tmp_path / "lab.gz"
    path.write_bytes(gzip.compress(b""))
    _refused(read_labels, path, "0 bytes, shorter than the 8-byte header")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    _refused(read_labels, empty, "0 bytes, shorter than the 8-byte header")


def test_valid_file_is_read_with_one_copy(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (500, 28, 28), dtype=np.uint8)
    path = tmp_path / "img.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, *images.shape) + images.tobytes()))
    tracemalloc.start()
    got = read_images(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(got, images)
    assert peak < images.nbytes + MiB
