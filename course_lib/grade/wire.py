"""The files the grader and a submission's kernel exchange: calls in, outcomes out.

One folder per graded function. The grader writes the calls (``calls/<i>.json`` and
``<i>_<k>.npy``); the kernel writes one outcome per call (``<i>.json`` and ``<i>_<k>.npy``).
JSON holds the structure; arrays are ``.npy`` files (never pickles). Tagged objects:
``{"$array": k}`` (the k-th array file), ``{"$tuple": [...]}``, ``{"$generator": state}`` (a
``np.random.Generator``'s PCG64 state) and ``{"$opaque": [type, text]}``.

Everything read back from the kernel's side is untrusted: ``read_outcome`` accepts only the
expected file names, regular files (no symlinks), sizes under a limit, plain dtypes and a
bounded structure, and rebuilds an ``Outcome`` from checked fields.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..checks._running import Opaque, Outcome

MAX_DEPTH = 4
MAX_ITEMS = 64
MAX_TEXT = 400
MAX_ARRAY_BYTES = 64 * 2**20
MAX_JSON_BYTES = 2**20
_NAME = re.compile(r"[0-9]{1,6}(_[0-9]{1,3})?\.(json|npy)")
_ERROR_FIELDS = {"type": str, "message": str, "where": str, "frame": str, "in_call": bool}


class WireError(ValueError):
    """A file of the exchange is not what the protocol allows."""


# ------------------------------------------------------------------------------------ writing
def _encode(value, arrays: list):
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"$array": len(arrays) - 1}
    if isinstance(value, np.random.Generator):
        return {"$generator": value.bit_generator.state}
    if isinstance(value, Opaque):
        return {"$opaque": [value.type_name, value.text]}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} over the wire")


def _write(folder: Path, index: int, document: dict, arrays: list) -> None:
    for k, array in enumerate(arrays):
        np.save(folder / f"{index}_{k}.npy", array, allow_pickle=False)
    (folder / f"{index}.json").write_text(json.dumps(document), encoding="utf-8")


def write_calls(folder: str | os.PathLike, calls: list[tuple[dict, tuple]]) -> None:
    """Write ``calls`` ([(args, keyword names)]) into ``folder`` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, (args, keyword) in enumerate(calls):
        arrays: list = []
        document = {"args": [[name, _encode(v, arrays)] for name, v in args.items()],
                    "keyword": list(keyword)}
        _write(folder, index, document, arrays)
    (folder / "count.json").write_text(json.dumps(len(calls)), encoding="utf-8")


def write_outcome(folder: str | os.PathLike, index: int, outcome: Outcome) -> None:
    """Write one call's outcome (the kernel's side)."""
    arrays: list = []
    document = {"value": _encode(outcome.value, arrays), "error": outcome.error,
                "timeout": outcome.timeout, "forbidden": outcome.forbidden,
                "modified": list(outcome.modified)}
    _write(Path(folder), index, document, arrays)


# ------------------------------------------------------------------------------------ reading
def _read_bytes(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes (never through a symlink); None when absent; WireError when it
    is not a regular file or is larger than ``limit``."""
    if not _NAME.fullmatch(path.name) and path.name != "count.json":
        raise WireError(f"unexpected file name {path.name!r}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WireError(f"{path.name} cannot be opened safely: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WireError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise WireError(f"{path.name} has {info.st_size} bytes (at most {limit})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise WireError(f"{path.name} is larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


def _array(folder: Path, index: int, k, limit: int) -> np.ndarray:
    if type(k) is not int or not 0 <= k < MAX_ITEMS:
        raise WireError(f"bad array reference {k!r}")
    data = _read_bytes(folder / f"{index}_{k}.npy", limit)
    if data is None:
        raise WireError(f"array file {index}_{k}.npy is missing")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # any unreadable .npy is a protocol error
        raise WireError(f"{index}_{k}.npy is not a plain .npy array: {exc}") from None
    if type(array) is not np.ndarray or array.dtype.kind not in "fiub" or array.ndim > 8:
        raise WireError(f"{index}_{k}.npy holds {array.dtype} with {array.ndim} dims")
    return array


def _decode(value, folder: Path, index: int, depth: int, limit: int):
    if depth > MAX_DEPTH:
        raise WireError("the value is nested too deeply")
    if value is None or type(value) in (bool, int, float):
        return value
    if type(value) is str:
        return value[:MAX_TEXT]
    if type(value) is list:
        if len(value) > MAX_ITEMS:
            raise WireError("a list has too many items")
        return [_decode(v, folder, index, depth + 1, limit) for v in value]
    if type(value) is dict and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "$array":
            return _array(folder, index, inner, limit)
        if tag == "$tuple" and type(inner) is list:
            return tuple(_decode(v, folder, index, depth, limit) for v in inner[:MAX_ITEMS])
        if tag == "$opaque" and type(inner) is list and len(inner) == 2 \
                and all(type(s) is str for s in inner):
            return Opaque(inner[0][:80], inner[1][:MAX_TEXT])
        if tag == "$generator" and type(inner) is dict:
            generator = np.random.Generator(np.random.PCG64())
            try:
                generator.bit_generator.state = inner
            except Exception as exc:  # a state PCG64 refuses
                raise WireError(f"bad generator state: {exc}") from None
            return generator
    raise WireError(f"unexpected value of type {type(value).__name__}")


def _document(folder: Path, index: int) -> dict | None:
    data = _read_bytes(folder / f"{index}.json", MAX_JSON_BYTES)
    if data is None:
        return None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"{index}.json is not JSON: {exc}") from None
    if type(document) is not dict:
        raise WireError(f"{index}.json is not an object")
    return document


def read_calls(folder: str | os.PathLike) -> list[tuple[dict, tuple]]:
    """The calls ``write_calls`` wrote (the kernel's side)."""
    folder = Path(folder)
    count = json.loads((folder / "count.json").read_text(encoding="utf-8"))
    calls = []
    for index in range(count):
        document = _document(folder, index)
        if document is None:
            raise WireError(f"call {index}.json is missing")
        args = {name: _decode(v, folder, index, 0, MAX_ARRAY_BYTES)
                for name, v in document["args"]}
        calls.append((args, tuple(document["keyword"])))
    return calls


def read_outcome(folder: str | os.PathLike, index: int, arg_names: Sequence[str] = (),
                 limit: int = MAX_ARRAY_BYTES) -> Outcome | None:
    """Outcome ``index`` from a kernel's folder, checked field by field; None when the kernel
    wrote none (it stopped before); WireError when the files break the protocol."""
    folder = Path(folder)
    document = _document(folder, index)
    if document is None:
        return None
    if set(document) != {"value", "error", "timeout", "forbidden", "modified"}:
        raise WireError(f"{index}.json has fields {sorted(document)[:8]}")
    error = document["error"]
    if error is not None:
        if type(error) is not dict or set(error) != set(_ERROR_FIELDS) or not all(
                type(error[k]) is t for k, t in _ERROR_FIELDS.items()):
            raise WireError(f"{index}.json has a malformed error")
        error = {k: v[:MAX_TEXT] if type(v) is str else v for k, v in error.items()}
    forbidden = document["forbidden"]
    if forbidden is not None and type(forbidden) is not str:
        raise WireError(f"{index}.json has a malformed 'forbidden'")
    modified = document["modified"]
    if type(modified) is not list or not all(m in arg_names for m in modified):
        raise WireError(f"{index}.json names inputs that do not exist as modified")
    if type(document["timeout"]) is not bool:
        raise WireError(f"{index}.json has a malformed 'timeout'")
    return Outcome(value=_decode(document["value"], folder, index, 0, limit), error=error,
                   timeout=document["timeout"],
                   forbidden=forbidden[:MAX_TEXT] if forbidden else None,
                   modified=tuple(modified))
