"""The training loop (``fit``) and scoring in eval mode (``evaluate``, ``predict``).

    history = fit(model, CrossEntropyLoss(), Adam(model.params), (x_train, y_train),
                  epochs=3, batch_size=64, val=(x_val, y_val), seed=0)
    loss, acc = evaluate(model, x_test, y_test)   # once, at the very end
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, overload

import numpy as np
import numpy.typing as npt

from ..data import iterate_minibatches
from ..data_parallel import data_parallel
from ..layers import CrossEntropyLoss
from ..model import Sequential
from ..optim import LRSchedule, Optimizer
from ..validate import as_rng, check_array, check_bool, check_int, check_labels
from ._checks import (
    check_dataset,
    check_images_and_labels,
    check_model,
    check_training_tools,
    model_dtype,
)

__all__ = ["History", "Loss", "fit", "evaluate", "predict"]


@dataclass
class History:
    """What ``fit`` recorded.

    Per optimiser step: ``step_loss``, ``step_acc`` (on the batch), ``lr``.
    Per epoch: ``epoch_loss``, ``epoch_acc`` (means over the epoch's examples),
    ``epoch_time`` (seconds of training, evaluation excluded), and, when ``fit`` got
    validation data, ``val_loss`` and ``val_acc`` measured after the epoch.
    """

    steps_per_epoch: int = 0
    step_loss: list[float] = field(default_factory=list)
    step_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.epoch_loss)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON-serialisable)."""
        return asdict(self)


class Loss(Protocol):
    """What ``fit`` needs of a loss, e.g. ``CrossEntropyLoss()``."""

    def __call__(self, logits: np.ndarray, y: np.ndarray, /) -> float: ...

    def backward(self) -> np.ndarray: ...


def fit(model: Sequential, loss_fn: Loss, optimizer: Optimizer,
        train: tuple[np.ndarray, np.ndarray], epochs: int, batch_size: int = 64, *,
        val: tuple[np.ndarray, np.ndarray] | None = None, schedule: LRSchedule | None = None,
        seed: int | np.random.Generator = 0, progress: bool = True,
        on_epoch_end: Callable[[int, History], object] | None = None) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential mapping x (B, C, H, W) to logits (B, K).
    loss_fn : e.g. ``CrossEntropyLoss()``: ``loss_fn(logits, y) -> float`` and
        ``loss_fn.backward() -> dlogits``.
    optimizer : an ``Optimizer`` built on ``model.params``.
    train : (x (N, C, H, W) in the model's dtype, y (N,) integer labels).
    epochs, batch_size : passes over the data; examples per step (the last may be smaller).
    val : optional (x_val, y_val), evaluated after every epoch (eval mode).
    schedule : optional ``LRSchedule`` on ``optimizer``; stepped after every batch.
    seed : int or np.random.Generator for the batch order (same seed -> same run).
    progress : show a tqdm progress bar per epoch (False: silent).
    on_epoch_end : optional ``callback(epoch, history)`` called after each epoch.

    Returns
    -------
    History with per-step and per-epoch loss and accuracy, epoch times and val metrics.
    """
    dtype = model_dtype(model)
    check_training_tools(loss_fn, optimizer, schedule)
    x, y = check_dataset(train, "train", dtype)
    val = None if val is None else check_dataset(val, "val", dtype)
    epochs, batch_size = check_int(epochs, "epochs", 1), check_int(batch_size, "batch_size", 1)
    progress = check_bool(progress, "progress")
    rng = as_rng(seed, "seed", allow_none=False)

    n = x.shape[0]
    history = History(steps_per_epoch=math.ceil(n / batch_size))
    for epoch in range(epochs):
        model.train()
        bar = _EpochBar(iterate_minibatches(x, y, batch_size, shuffle=True, seed=rng),
                        history.steps_per_epoch, f"epoch {epoch + 1}/{epochs}", progress)
        seen, total_loss, total_correct = 0, 0.0, 0
        start = time.perf_counter()
        with data_parallel(model) as net:  # half of each batch on the 2nd core, if set to 2
            for xb, yb in bar:
                logits = net.forward(xb)
                loss = float(loss_fn(logits, yb))
                net.backward(loss_fn.backward(), input_grad=False)  # no dx for the images
                history.lr.append(optimizer.lr)
                optimizer.step(model.grads)
                if schedule is not None:
                    schedule.step()
                correct = int((logits.argmax(axis=1) == yb).sum())
                history.step_loss.append(loss)
                history.step_acc.append(correct / len(yb))
                seen += len(yb)
                total_loss += loss * len(yb)
                total_correct += correct
                bar.show(loss=total_loss / seen, acc=total_correct / seen)
        history.epoch_time.append(time.perf_counter() - start)
        history.epoch_loss.append(total_loss / n)
        history.epoch_acc.append(total_correct / n)
        if val is not None:
            val_loss, val_acc = evaluate(model, *val, batch_size=max(batch_size, 500))
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        bar.close(loss=history.epoch_loss[-1], acc=history.epoch_acc[-1],
                  **({"val_acc": history.val_acc[-1]} if val is not None else {}))
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    model.train()
    return history


class _EpochBar:
    """One epoch's batches behind a tqdm.auto bar (terminal or notebook) showing the running
    loss and accuracy, or the bare batches when ``enabled`` is False."""

    EVERY = 20  # steps between updates of the numbers (each costs a redraw)

    def __init__(self, batches: Iterable, total: int, desc: str, enabled: bool):
        self.batches, self.total, self.step = batches, total, -1
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm
            self.bar = tqdm(batches, total=total, desc=desc, leave=True, unit="batch",
                            dynamic_ncols=True)

    def __iter__(self) -> Iterator:
        return iter(self.bar if self.bar is not None else self.batches)

    def show(self, **values: float) -> None:
        """Show ``values`` after a step (every ``EVERY`` steps and after the last)."""
        self.step += 1
        if self.bar is not None and (self.step % self.EVERY == 0
                                     or self.step == self.total - 1):
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)

    def close(self, **values: float) -> None:
        """Show the epoch's final ``values`` and close the bar."""
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()})
            self.bar.close()


def _batched_logits(model: Sequential, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits for all of x in eval mode (restoring the model's mode afterwards)."""
    with model.evaluating():
        return np.concatenate([model.forward(x[i:i + batch_size])
                               for i in range(0, x.shape[0], batch_size)])


def evaluate(model: Sequential, x: npt.NDArray[np.floating], y: npt.NDArray[np.integer],
             batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on (x, y), in eval mode.

    x : (N, C, H, W) in the model's dtype; y : (N,) integer labels.
    Returns (loss, accuracy) as Python floats; accuracy in [0, 1].
    """
    check_images_and_labels(x, y, model_dtype(model))
    logits = _batched_logits(model, x, check_int(batch_size, "batch_size", 1))
    check_labels(y, "y", x.shape[0], logits.shape[1])
    loss = CrossEntropyLoss()(logits, y)
    return float(loss), float((logits.argmax(axis=1) == y).mean())


@overload
def predict(model: Sequential, x: npt.NDArray[np.floating], batch_size: int = ..., *,
            return_logits: Literal[False] = ...) -> npt.NDArray[np.int64]: ...


@overload
def predict(model: Sequential, x: npt.NDArray[np.floating], batch_size: int = ..., *,
            return_logits: Literal[True]
            ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.floating]]: ...


def predict(model: Sequential, x: npt.NDArray[np.floating], batch_size: int = 500, *,
            return_logits: bool = False
            ) -> npt.NDArray[np.int64] | tuple[npt.NDArray[np.int64], npt.NDArray[np.floating]]:
    """Predicted classes (N,) int64 for x (N, C, H, W), in eval mode.

    With ``return_logits=True`` returns (classes, logits (N, K)).
    """
    check_model(model)
    check_array(x, "x", 4, axis_names="(N, C, H, W)", finite=False)
    logits = _batched_logits(model, x, check_int(batch_size, "batch_size", 1))
    classes = logits.argmax(axis=1).astype(np.int64)
    return (classes, logits) if check_bool(return_logits, "return_logits") else classes
