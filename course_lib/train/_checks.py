"""Argument checks shared by the training loop and save/load: what a model, a dataset and
the training tools must be, each with an error that names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import Sequential
from ..optim import LRSchedule, Optimizer
from ..validate import check_array, check_labels


def check_model(model: Any) -> Sequential:
    """``model`` if it is a course_lib ``Sequential``; else TypeError."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a course_lib Sequential, got {type(model).__name__}")
    return model


def model_dtype(model: Any) -> np.dtype:
    """The one dtype of the model's parameters (TypeError if they mix dtypes)."""
    dtypes = {p.dtype for p in check_model(model).params.values()}
    if len(dtypes) != 1:
        raise TypeError(f"model parameters must share one dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


def check_images_and_labels(x: Any, y: Any, dtype: np.dtype, x_name: str = "x",
                            y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Check images x (N, C, H, W) of the model's ``dtype`` and labels y (N,); return them."""
    check_array(x, x_name, 4, axis_names="(N, C, H, W)", finite=False)
    if x.dtype != dtype:
        raise TypeError(f"{x_name} must have the model's dtype {dtype}, got {x.dtype}; "
                        f"use course_lib.data.normalize(images, dtype=...) or x.astype(...)")
    return x, check_labels(y, y_name, x.shape[0])


def check_dataset(data: Any, name: str, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Check a pair ``(images, labels)`` called ``name`` ("train", "val"); return it."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (x, y) of arrays, got {type(data).__name__}")
    return check_images_and_labels(data[0], data[1], dtype, f"{name} images", f"{name} labels")


def check_training_tools(loss_fn: Any, optimizer: Any, schedule: Any) -> None:
    """A loss with ``backward()``, an ``Optimizer``, and a ``LRSchedule`` on it or None."""
    if not callable(loss_fn) or not hasattr(loss_fn, "backward"):
        raise TypeError(f"loss_fn must be callable with a backward() method (e.g. "
                        f"CrossEntropyLoss()), got {type(loss_fn).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a course_lib.optim Optimizer, got "
                        f"{type(optimizer).__name__}")
    if schedule is not None and not isinstance(schedule, LRSchedule):
        raise TypeError(f"schedule must be a course_lib.optim LRSchedule or None, got "
                        f"{type(schedule).__name__}")
    if schedule is not None and schedule.optimizer is not optimizer:
        raise ValueError("schedule must be built on the same optimizer that fit is given")
