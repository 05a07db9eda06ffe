"""Fixtures for the data tests: IDX bytes built by hand and a real HTTP server on 127.0.0.1."""
import gzip
import http.server
import os
import signal
import socket
import struct
import threading
import time

import numpy as np
import pytest


def idx_bytes(array):
    """IDX encoding of a uint8 array (N,) or (N, rows, cols), written independently of the package."""
    magic = 0x801 if array.ndim == 1 else 0x803
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def synthetic_mnist(n, seed=0):
    """n random 28x28 uint8 images and labels 0..9 (every class present when n >= 10)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_split(folder, images, labels, prefix="train"):
    """Write <prefix>-images-idx3-ubyte.gz and <prefix>-labels-idx1-ubyte.gz into folder."""
    os.makedirs(folder, exist_ok=True)
    for name, arr in ((f"{prefix}-images-idx3-ubyte.gz", images), (f"{prefix}-labels-idx1-ubyte.gz", labels)):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(gzip.compress(idx_bytes(arr), mtime=0))


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves server.routes: path -> (mode, body); mode is ok, 404, truncate or interrupt."""

    def do_GET(self):
        mode, body = self.server.routes.get(self.path, ("404", b""))
        self.server.hits.append(self.path)
        if mode == "404":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "ok":
            self.wfile.write(body)
        elif mode == "truncate":  # promise len(body) bytes, send half, close
            self.wfile.write(body[: len(body) // 2])
        elif mode == "interrupt":  # Ctrl-C arrives in the client halfway through the body
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            time.sleep(0.2)
            self.wfile.write(body[len(body) // 2:])
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A threaded HTTP server on an ephemeral 127.0.0.1 port; yields (server, base_url)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes, server.hits = {}, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dead_port():
    """A port that was bound and then closed, so connecting to it is refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent_port():
    """A listening socket that never answers, to test the connection timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Point the cache and $TINYGRAD_CNN_DATA away from the user's real directories."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("TINYGRAD_CNN_DATA", raising=False)
    monkeypatch.delenv("TINYGRAD_CNN_MNIST_MIRRORS", raising=False)
    monkeypatch.delenv("TINYGRAD_CNN_FASHION_MNIST_MIRRORS", raising=False)
    return tmp_path


@pytest.fixture
def helpers():
    """The helper functions above, for test modules (importing conftest is fragile)."""
    import types
    return types.SimpleNamespace(idx_bytes=idx_bytes, synthetic_mnist=synthetic_mnist,
                                 write_split=write_split)
