"""Writing files so that a reader never sees half of one: the one place for atomic writes.

A stopped grader, a failed download or two processes writing at once leave either the old
file or the new one, never a mix: the data goes to a temporary file in the same folder, is
flushed to disk, and replaces the target in one ``os.replace``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "write_atomic"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *,
                encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    mode : ``"wb"`` or ``"w"`` (text, UTF-8 unless ``encoding`` says otherwise).
    An exception inside the ``with`` block deletes the temporary file and leaves ``path``
    as it was. The new file keeps the old one's permissions (a new file: 0o666 minus umask).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    if path.exists():
        permissions = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        permissions = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        handle: IO
        if mode == "w":
            handle = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
        else:
            handle = os.fdopen(fd, "wb")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` (bytes, or str written as UTF-8) in one step."""
    if not isinstance(data, (bytes, str)):
        raise TypeError(f"data must be bytes or str, got {type(data).__name__}")
    with atomic_open(path, "w" if isinstance(data, str) else "wb") as handle:
        handle.write(data)
