"""Download a file from a list of mirrors, verify its MD5, and write it atomically."""
import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request

from tinygrad_cnn.atomic_file import atomic_write

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional
    tqdm = None

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered an intact file; `.failures` holds (url, reason) pairs."""

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


class _MirrorFailed(Exception):
    """One mirror failed; the message says why."""


def md5_file(path):
    """Return the hex MD5 of the file at `path`."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download(filename, mirrors, dest_dir, md5=None, timeout=5.0, progress=True, manual_hint=""):
    """Fetch `filename` from the first mirror that serves it intact; return its path in dest_dir."""
    mirrors = list(mirrors)
    dest_dir = os.fspath(dest_dir)
    created = _make_dirs(dest_dir)
    dest = os.path.join(dest_dir, filename)
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            _fetch_atomic(url, dest, md5, timeout, progress)
            return dest
        except _MirrorFailed as e:
            failures.append((url, str(e)))
    for folder in reversed(created):      # leave no empty folders behind a failed download
        try:
            os.rmdir(folder)
        except OSError:
            break
    lines = [f"could not download {filename} from any of {len(mirrors)} mirror(s):"]
    lines += [f"  {url}: {why}" for url, why in failures] or ["  (no mirrors given)"]
    if manual_hint:
        lines.append(manual_hint)
    raise DownloadError("\n".join(lines), failures)


def _make_dirs(folder):
    """os.makedirs(folder); returns the folders it created, outermost first."""
    missing, f = [], os.path.abspath(folder)
    while not os.path.isdir(f) and os.path.dirname(f) != f:
        missing.append(f)
        f = os.path.dirname(f)
    os.makedirs(folder, exist_ok=True)
    return missing[::-1]


def _fetch_atomic(url, dest, md5, timeout, progress):
    """Stream `url` into a temp file beside `dest`, check it, then rename it into place."""
    with atomic_write(dest, suffix=".part") as out:
        got, nbytes = _stream(url, out, timeout, progress)
        if md5 is not None and got != md5.lower():
            raise _MirrorFailed(f"checksum mismatch: expected md5 {md5}, got {got} ({nbytes} bytes)")


def _open(url, timeout):
    """Open `url`, turning every way of failing into _MirrorFailed with a reason."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        raise _MirrorFailed(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise _MirrorFailed(f"timed out connecting (timeout {timeout} s)") from None
        raise _MirrorFailed(f"connection failed: {reason}") from None
    except (TimeoutError, socket.timeout):
        raise _MirrorFailed(f"timed out waiting for a response (timeout {timeout} s)") from None
    except (http.client.HTTPException, OSError, ValueError) as e:
        raise _MirrorFailed(f"{type(e).__name__}: {e}") from None


def _stream(url, out, timeout, progress):
    """Copy the body of `url` into `out`; return (md5 hex, bytes read)."""
    h, nbytes = hashlib.md5(), 0
    with _open(url, timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        bar = None
        if progress and tqdm is not None:
            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=url.rsplit("/", 1)[-1], leave=False)
        try:
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                nbytes += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        except http.client.IncompleteRead as e:
            got = nbytes + len(e.partial)
            expected = f"Content-Length {total} bytes" if total is not None else "a complete body"
            raise _MirrorFailed(f"truncated body: {expected} but {got} bytes read") from None
        except (TimeoutError, socket.timeout):
            raise _MirrorFailed(f"timed out reading the body after {nbytes} bytes "
                                f"(timeout {timeout} s)") from None
        except (http.client.HTTPException, OSError) as e:
            raise _MirrorFailed(f"connection lost after {nbytes} bytes: {e}") from None
        finally:
            if bar is not None:
                bar.close()
    if total is not None and nbytes != total:
        raise _MirrorFailed(f"truncated body: Content-Length {total} bytes but {nbytes} bytes read")
    return h.hexdigest(), nbytes
