"""Opening the user's input files safely: regular files only.

A FIFO would block ``open()`` forever waiting for a writer, and a device such as
/dev/zero or /dev/urandom never ends: reading either as a model, CSV or NPZ file
would hang or fill memory. :func:`open_regular` opens without blocking, checks
the file type, then hands back an ordinary file object. Not for writing.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import IO, Any


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
