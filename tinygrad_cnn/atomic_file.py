"""atomic_write: a file appears whole under its name, or not at all (also on Ctrl-C)."""
import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, suffix=".tmp"):
    """Yield a binary file beside ``path``; on success fsync it and rename it over ``path``.

    Any exception inside the block (KeyboardInterrupt included) removes the temp file and
    leaves an existing ``path`` untouched. The new file keeps an old file's permissions, else
    gets 0o666 & ~umask like open(path, "w") (and torch.save). The temp file's name is never
    longer than the target's (or than 16 characters), so any valid name can be written.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temp(folder, os.path.basename(path), suffix)
    try:
        if os.path.exists(path) and hasattr(os, "fchmod"):
            os.fchmod(fd, os.stat(path).st_mode & 0o777)
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


def temp_name(name, suffix=".tmp"):
    """A hidden, random sibling name for `name`: "." + head + "." + 8 hex + suffix, where the
    head is cut so the whole is no longer than max(len(name), the fixed part)."""
    fixed = 2 + 8 + len(suffix)
    head = name[:max(0, len(name) - fixed)]
    return f".{head}.{secrets.token_hex(4)}{suffix}"


def _create_temp(folder, name, suffix):
    """(fd, path) of a new temp file made with mode 0o666, which the OS reduces by the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, temp_name(name, suffix))
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {name} in {folder}")


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
