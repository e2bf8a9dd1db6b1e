"""Files, safely: reading the user's input (regular files only) and writing atomically.

A FIFO would block ``open()`` forever waiting for a writer, and a device such as
/dev/zero or /dev/urandom never ends: reading either as a model, CSV or NPZ file
would hang or fill memory. :func:`open_regular` opens without blocking, checks
the file type, then hands back an ordinary file object. :func:`atomic_write`
writes a whole file so that a crash leaves either the old file or the new one.
What it is not: a file format (``nncore._safetensors``) or a data loader.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import IO, Any, Iterable

__all__ = ["open_regular", "atomic_write"]


def open_regular(path: str | os.PathLike, mode: str = "rb", **kwargs: Any) -> IO:
    """``open(path, mode, **kwargs)`` for reading, refusing anything but a regular file.

    Raises
    ------
    IsADirectoryError
        `path` is a directory.
    OSError
        (errno EINVAL, "not a regular file") for FIFOs, sockets and devices, or the
        usual OSError (missing file, no permission).
    """
    if any(c in mode for c in "wax+"):
        raise ValueError(f"open_regular is for reading, got mode {mode!r}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device?)",
                          os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def atomic_write(path: str | os.PathLike, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` through a temporary file in the target's directory,
    fsync, then rename it over ``path``: a crash at any point leaves either the old file
    or the complete new one. The new file gets the permissions a plain ``open()`` would
    give (or the old file's).

    A symlink writes the file it points to (renaming over the link would replace the
    link); an existing directory, device, FIFO or socket is refused (renaming over it
    would replace it: ``/dev/full`` turned into a regular file, as root).

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory.
    OSError
        (errno EINVAL) ``path`` is a device, FIFO or socket; or the usual OSError.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    try:
        st = os.stat(path)
    except OSError:
        st = None   # a new file
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a device, FIFO or socket): not "
                      "replaced", path)
    directory = os.path.dirname(os.path.abspath(path))
    try:   # the permissions a plain open() would give (mkstemp makes 0600)
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=".nncore-", suffix=".tmp", dir=directory)
    try:
        try:
            os.fchmod(fd, mode)
        except (AttributeError, OSError):   # e.g. Windows: no fchmod
            pass
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
