"""Scratch memory that a layer keeps from one call to the next.

NumPy gets every large array (an im2col ``cols`` of 10-15 MB, its gradient, a padded copy)
as fresh pages from the operating system and pays a page fault on the first touch of each
4 KB page, on every call: with glibc's default settings that costs as much as the copies
themselves (issue 15). PyTorch keeps freed memory in a caching allocator. A ``Workspace``
does the same for one layer: ``ws.empty("cols", shape, dtype)`` returns an array over the
memory kept under ``"cols"``, grown when a larger one is asked for, so the second training
step writes into memory that is already mapped and cached.

The rule that keeps this safe: an array taken from a workspace is only valid until the next
call that takes the same name, so it must never be handed to a caller who keeps it (a
layer's output, a gradient). The ops copy their results out into fresh arrays.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .validate import check_dtype, check_int

__all__ = ["Workspace", "check_workspace"]

_ALIGN = 64  # bytes: a cache line, and what AVX-512 loads like


class Workspace:
    """Named scratch buffers reused across calls (see the module docstring).

    ``empty(name, shape, dtype)`` -> uninitialised array; ``zeros(...)`` -> zero-filled;
    ``nbytes`` -> memory held; ``clear()`` frees it all.
    max_bytes : if given, the most it ever holds: a request that would grow it past that gets
        a fresh array, which is not kept (for scoring, whose batches may be any size).
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self._buffers: dict[str, np.ndarray] = {}
        self.max_bytes = None if max_bytes is None else check_int(max_bytes, "max_bytes", 0)

    def empty(self, name: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` (float32/float64 or
        bool) over the buffer kept under ``name``: the same memory as the previous ``name``."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        dt = np.dtype(bool) if np.dtype(dtype) == np.bool_ else check_dtype(dtype)
        shape = tuple(shape)
        if not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape):
            raise ValueError(f"shape must be a tuple of ints >= 0, got {shape!r}")
        nbytes = math.prod(shape) * dt.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.nbytes < nbytes:
            held = self.nbytes - (0 if buf is None else buf.nbytes)
            if self.max_bytes is not None and held + nbytes > self.max_bytes:
                return np.empty(shape, dtype=dt)       # too big to keep: fresh
            raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
            start = -raw.ctypes.data % _ALIGN
            buf = self._buffers[name] = raw[start:start + nbytes]
        return buf[:nbytes].view(dt).reshape(shape)

    def zeros(self, name: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
        """``empty`` filled with zeros (a memset of memory already mapped)."""
        out = self.empty(name, shape, dtype)
        out.fill(0)
        return out

    def __getstate__(self) -> dict:
        """Pickled (or deep-copied) without its buffers: scratch memory is not state."""
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self._buffers = {}
        self.max_bytes = state["max_bytes"]

    @property
    def nbytes(self) -> int:
        """Bytes held by all buffers."""
        return sum(b.nbytes for b in self._buffers.values())

    def clear(self) -> None:
        """Drop every buffer (the memory is freed once no array uses it)."""
        self._buffers.clear()

    def __repr__(self) -> str:
        cap = "" if self.max_bytes is None else f" of at most {self.max_bytes / 2**20:.1f}"
        return f"Workspace({sorted(self._buffers)}, {self.nbytes / 2**20:.1f} MB{cap})"


def check_workspace(workspace: object) -> Workspace:
    """Return ``workspace`` if it is a Workspace, a fresh one if it is None; else TypeError.

    A fresh one per call means fresh memory, as if there were no workspace at all."""
    if workspace is None:
        return Workspace()
    if not isinstance(workspace, Workspace):
        raise TypeError(f"workspace must be a course_lib.workspace.Workspace or None, got "
                        f"{type(workspace).__name__}")
    return workspace
