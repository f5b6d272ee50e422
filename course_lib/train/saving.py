"""Saving a model's weights with what made them, and loading them back.

A ``.npz`` file holds every parameter and buffer (``state/<key>``) and a JSON string of
metadata (``__metadata__``): the ``course_lib.models`` name that rebuilds the net, its
options, and anything the caller adds (the command, the scores, the history)::

    save_model(model, "lenet.npz", test_accuracy=acc)
    model = load_model(WEIGHTS_DIR / "lenet.npz")   # a shipped net; model.metadata: the rest
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_open
from ..model import Sequential
from ..models import MODELS, build_model
from ..validate import check_path
from ._checks import check_model

__all__ = ["save_model", "load_model"]

_STATE = "state/"
_META = "__metadata__"


def save_model(model: Sequential, path: str | os.PathLike, *, arch: str | None = None,
               arch_options: dict[str, Any] | None = None, **metadata: Any) -> Path:
    """Save ``model``'s parameters and buffers to a ``.npz`` file, with metadata.

    arch : the ``course_lib.models.MODELS`` name that rebuilds the model (default: the
        ``model.arch`` that ``build_model``/``seed_net``/``lenet`` set). With no name,
        ``load_model`` needs ``model=`` to load into.
    arch_options : keyword arguments of the builder (default ``model.arch_options``).
    metadata : JSON-serialisable values (numbers, strings, lists, dicts) stored alongside.
    Returns the path written (all at once: an interrupted save leaves the old file).
    """
    check_model(model)
    path = check_path(path, "path")
    arch = model.arch if arch is None else arch
    if arch is not None and arch not in MODELS:
        raise ValueError(f"arch must be one of {sorted(MODELS)} or None, got {arch!r}")
    options = model.arch_options if arch_options is None else arch_options
    try:
        meta_json = json.dumps({"arch": arch, "arch_options": options, **metadata})
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable (numbers, strings, lists, "
                        f"dicts): {exc}") from None
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {_STATE + k: v for k, v in model.state_dict().items()}
    arrays[_META] = np.array(meta_json)
    with atomic_open(path) as f:
        np.savez_compressed(f, **arrays)
    return path


def load_model(path: str | os.PathLike, model: Sequential | None = None,
               rng: int | np.random.Generator | None = 0) -> Sequential:
    """Load a model saved by ``save_model``; returns it with ``model.metadata`` (a dict).

    model : a model with the same architecture to load into; by default the model is
        rebuilt from the saved ``arch`` name, in the saved dtype (``rng`` draws the initial
        weights that the saved ones then replace).
    """
    path = check_path(path, "path")
    with np.load(path, allow_pickle=False) as data:
        if _META not in data.files:
            raise ValueError(f"{path} was not written by save_model: no {_META!r} entry")
        meta = json.loads(str(data[_META]))
        state = {k[len(_STATE):]: data[k] for k in data.files if k.startswith(_STATE)}
    if model is None:
        if meta.get("arch") is None:
            raise ValueError(f"{path} names no architecture: pass model= to load into")
        dtype = next(iter(state.values())).dtype
        model = build_model(meta["arch"], rng, dtype=dtype, **meta.get("arch_options", {}))
    check_model(model).load_state_dict(state)
    model.metadata = meta
    return model
