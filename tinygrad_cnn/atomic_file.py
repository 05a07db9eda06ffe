"""atomic_write: a file appears whole under its name, or not at all (also on Ctrl-C)."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, suffix=".tmp"):
    """Yield a binary file beside ``path``; on success fsync it and rename it over ``path``.

    Any exception inside the block (KeyboardInterrupt included) removes the temp file and
    leaves an existing ``path`` untouched. The new file keeps an old file's permissions,
    else gets 0644 (mkstemp's 0600 would hide a shared dataset or checkpoint).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder):
    """Flush the directory entry of the renamed file where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
