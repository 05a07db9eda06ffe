"""Downloads against a real HTTP server on 127.0.0.1: success, fallthrough and every failure."""
import gzip
import hashlib
import os
import time

import numpy as np
import pytest

from tinygrad_cnn.data.download import DownloadError, download, md5_file
from tinygrad_cnn.data.idx import read_labels

NAME = "train-labels-idx1-ubyte.gz"


@pytest.fixture
def body(helpers):
    """A small gzip IDX labels file and its md5."""
    _, labels = helpers.synthetic_mnist(300)
    data = gzip.compress(helpers.idx_bytes(labels), mtime=0)
    return data, hashlib.md5(data).hexdigest(), labels


def _no_leftovers(folder, allowed=()):
    """The destination folder holds nothing but the allowed names (no .part files)."""
    assert sorted(os.listdir(folder)) == sorted(allowed)


def test_good_download_verifies_then_parses(http_server, body, tmp_path):
    server, base = http_server
    data, md5, labels = body
    server.routes["/m1/" + NAME] = ("ok", data)
    path = download(NAME, [base + "/m1/"], tmp_path, md5=md5, progress=False)
    assert path == os.path.join(tmp_path, NAME)
    assert md5_file(path) == md5
    np.testing.assert_array_equal(read_labels(path), labels)
    _no_leftovers(tmp_path, [NAME])


def test_download_with_progress_bar(http_server, body, tmp_path):
    server, base = http_server
    data, md5, _ = body
    server.routes["/" + NAME] = ("ok", data)
    download(NAME, [base], tmp_path, md5=md5, progress=True)
    _no_leftovers(tmp_path, [NAME])


def test_first_mirror_404_second_good(http_server, body, tmp_path):
    server, base = http_server
    data, md5, _ = body
    server.routes["/good/" + NAME] = ("ok", data)
    path = download(NAME, [base + "/missing", base + "/good"], tmp_path, md5=md5, progress=False)
    assert md5_file(path) == md5
    assert server.hits == ["/missing/" + NAME, "/good/" + NAME]


def test_every_failure_listed_and_no_partial_file(http_server, body, dead_port, tmp_path):
    server, base = http_server
    data, md5, _ = body
    server.routes["/trunc/" + NAME] = ("truncate", data)
    wrong = bytearray(data)
    wrong[len(data) // 2] ^= 0xFF
    server.routes["/wrong/" + NAME] = ("ok", bytes(wrong))
    mirrors = [base + "/404", f"http://127.0.0.1:{dead_port}/", base + "/trunc", base + "/wrong"]
    with pytest.raises(DownloadError) as e:
        download(NAME, mirrors, tmp_path, md5=md5, progress=False,
                 manual_hint="put the files in /some/dir")
    msg = str(e.value)
    urls = [m.rstrip("/") + "/" + NAME for m in mirrors]
    assert [u for u, _ in e.value.failures] == urls
    reasons = dict(e.value.failures)
    assert reasons[urls[0]] == "HTTP 404 Not Found"
    assert "connection failed" in reasons[urls[1]] and "refused" in reasons[urls[1]].lower()
    assert reasons[urls[2]] == (f"truncated body: Content-Length {len(data)} bytes but "
                                f"{len(data) // 2} bytes read")
    assert reasons[urls[3]].startswith(f"checksum mismatch: expected md5 {md5}, got ")
    assert f"({len(data)} bytes)" in reasons[urls[3]]
    for url in urls:
        assert url in msg
    assert f"could not download {NAME} from any of 4 mirror(s)" in msg
    assert msg.endswith("put the files in /some/dir")
    _no_leftovers(tmp_path)


def test_silent_server_times_out_quickly(silent_port, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out") as e:
        download(NAME, [f"http://127.0.0.1:{silent_port}"], tmp_path, timeout=0.3, progress=False)
    assert time.monotonic() - start < 5
    assert len(e.value.failures) == 1
    _no_leftovers(tmp_path)


def test_ctrl_c_mid_download_leaves_no_file(http_server, body, tmp_path):
    server, base = http_server
    data = body[0] * 40  # big enough that the interrupt lands mid-body
    server.routes["/" + NAME] = ("interrupt", data)
    with pytest.raises(KeyboardInterrupt):
        download(NAME, [base], tmp_path, progress=False)
    _no_leftovers(tmp_path)


def test_failed_download_keeps_existing_good_file(http_server, body, tmp_path):
    server, base = http_server
    data, md5, _ = body
    (tmp_path / NAME).write_bytes(b"old contents")
    server.routes["/" + NAME] = ("truncate", data)
    with pytest.raises(DownloadError, match="truncated body"):
        download(NAME, [base], tmp_path, md5=md5, progress=False)
    assert (tmp_path / NAME).read_bytes() == b"old contents"
    _no_leftovers(tmp_path, [NAME])


def test_no_mirrors(tmp_path):
    with pytest.raises(DownloadError, match="from any of 0 mirror"):
        download(NAME, [], tmp_path, progress=False)


def test_download_error_is_a_runtime_error():
    assert issubclass(DownloadError, RuntimeError)
