"""The training loop, evaluation, saving and loading, and the course's command-line demo.

    x_train, y_train, x_val, y_val = train_val_split(x, y, 5000, seed=0)  # choose on x_val
    history = fit(model, CrossEntropyLoss(), Adam(model.params), (x_train, y_train),
                  epochs=3, batch_size=64, val=(x_val, y_val), seed=0)
    loss, acc = evaluate(model, x_test, y_test)   # once, at the very end
    save_model(model, "weights/lenet.npz", test_accuracy=acc)
    model = load_model("weights/lenet.npz")        # model.metadata holds the rest

Command line (trains on 55,000 of the bundled MNIST training images, prints a per-epoch table
of validation scores on the other 5,000; ``--test`` scores the test set once, at the end)::

    python -m course_lib.train --model lenet --epochs 5 --save weights/lenet.npz
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .data import iterate_minibatches, load_mnist, normalize, train_val_split
from .layers import CrossEntropyLoss
from .model import Sequential
from .models import MODELS, build_model
from .optim import SGD, Adam, CosineRestartsLR, LRSchedule, Optimizer, StepLR, WarmupCosineLR
from .validate import as_rng, check_array, check_dtype, check_int, check_labels

__all__ = ["History", "fit", "evaluate", "predict", "save_model", "load_model",
           "confusion_matrix", "misclassified", "main"]


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

    def to_dict(self) -> dict:
        """Plain lists (JSON-serialisable)."""
        return asdict(self)


def _model_dtype(model) -> np.dtype:
    dtypes = {p.dtype for p in model.params.values()}
    if len(dtypes) != 1:
        raise TypeError(f"model parameters must share one dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


def _check_xy(x, y, name: str, dtype=None):
    """Check images (N, C, H, W) float and labels (N,) int; return them."""
    check_array(x, f"{name} images", 4, axis_names="(N, C, H, W)", finite=False)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} images must have the model's dtype {dtype}, got {x.dtype}; "
                        f"use course_lib.data.normalize(images, dtype=...) or x.astype(...)")
    check_labels(y, f"{name} labels", x.shape[0], 10**9)
    return x, y


def _check_model(model):
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a course_lib Sequential, got {type(model).__name__}")
    return model


def _pair(data, name: str, dtype):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (x, y) of arrays, got {type(data).__name__}")
    return _check_xy(data[0], data[1], name, dtype)


def _progress(iterable, *, total, desc, enabled):
    """A tqdm.auto bar (terminal or notebook), or the bare iterable when disabled."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=True, unit="batch", dynamic_ncols=True)


def fit(model, loss_fn, optimizer, train, epochs: int, batch_size: int = 64, *, val=None,
        schedule: LRSchedule | None = None, seed=0, progress: bool = True,
        on_epoch_end=None) -> History:
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
    _check_model(model)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a course_lib.optim Optimizer, got "
                        f"{type(optimizer).__name__}")
    if schedule is not None and not isinstance(schedule, LRSchedule):
        raise TypeError(f"schedule must be a course_lib.optim LRSchedule or None, got "
                        f"{type(schedule).__name__}")
    if schedule is not None and schedule.optimizer is not optimizer:
        raise ValueError("schedule must be built on the same optimizer that fit is given")
    if not callable(loss_fn) or not hasattr(loss_fn, "backward"):
        raise TypeError(f"loss_fn must be callable with a backward() method (e.g. "
                        f"CrossEntropyLoss()), got {type(loss_fn).__name__}")
    dtype = _model_dtype(model)
    x, y = _pair(train, "train", dtype)
    if val is not None:
        val = _pair(val, "val", dtype)
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    rng = as_rng(seed, "seed") if seed is not None else None
    if rng is None:
        raise TypeError("seed must be an int or a numpy.random.Generator, got None")

    n = x.shape[0]
    history = History(steps_per_epoch=math.ceil(n / batch_size))
    for epoch in range(epochs):
        model.train()
        batches = _progress(iterate_minibatches(x, y, batch_size, shuffle=True, seed=rng),
                            total=history.steps_per_epoch,
                            desc=f"epoch {epoch + 1}/{epochs}", enabled=progress)
        total_loss = total_correct = 0.0
        start = time.perf_counter()
        for i, (xb, yb) in enumerate(batches):
            logits = model.forward(xb)
            loss = float(loss_fn(logits, yb))
            model.backward(loss_fn.backward(), input_grad=False)  # no dx for the images
            history.lr.append(optimizer.lr)
            optimizer.step(model.grads)
            if schedule is not None:
                schedule.step()
            correct = int((logits.argmax(axis=1) == yb).sum())
            history.step_loss.append(loss)
            history.step_acc.append(correct / len(yb))
            total_loss += loss * len(yb)
            total_correct += correct
            if progress and (i % 20 == 0 or i == history.steps_per_epoch - 1):
                batches.set_postfix(loss=f"{total_loss / (i * batch_size + len(yb)):.4f}",
                                    acc=f"{total_correct / (i * batch_size + len(yb)):.4f}",
                                    refresh=False)
        history.epoch_time.append(time.perf_counter() - start)
        history.epoch_loss.append(total_loss / n)
        history.epoch_acc.append(total_correct / n)
        if val is not None:
            val_loss, val_acc = evaluate(model, *val, batch_size=max(batch_size, 500))
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            if progress:
                batches.set_postfix(loss=f"{history.epoch_loss[-1]:.4f}",
                                    acc=f"{history.epoch_acc[-1]:.4f}",
                                    val_acc=f"{val_acc:.4f}")
        if progress:
            batches.close()
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    model.train()
    return history


def _batched_logits(model, x, batch_size):
    """Logits for all of x in eval mode (restoring the model's mode afterwards)."""
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model.forward(x[i:i + batch_size])
                               for i in range(0, x.shape[0], batch_size)])
    finally:
        model.train(was_training)


def evaluate(model, x, y, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on (x, y), in eval mode.

    x : (N, C, H, W) in the model's dtype; y : (N,) integer labels.
    Returns (loss, accuracy) as Python floats; accuracy in [0, 1].
    """
    _check_model(model)
    _check_xy(x, y, "x/y", _model_dtype(model))
    batch_size = check_int(batch_size, "batch_size", 1)
    logits = _batched_logits(model, x, batch_size)
    check_labels(y, "y", x.shape[0], logits.shape[1])
    loss = CrossEntropyLoss()(logits, y)
    return float(loss), float((logits.argmax(axis=1) == y).mean())


def predict(model, x, batch_size: int = 500, *, return_logits: bool = False):
    """Predicted classes (N,) int64 for x (N, C, H, W), in eval mode.

    With ``return_logits=True`` returns (classes, logits (N, K)).
    """
    _check_model(model)
    check_array(x, "x", 4, axis_names="(N, C, H, W)", finite=False)
    batch_size = check_int(batch_size, "batch_size", 1)
    logits = _batched_logits(model, x, batch_size)
    classes = logits.argmax(axis=1).astype(np.int64)
    return (classes, logits) if return_logits else classes


# ----------------------------------------------------------------------------- analysis
def _labels(y, name: str, n: int | None = None, num_classes: int | None = None) -> np.ndarray:
    """Check a 1-D integer label array (length n, values in [0, num_classes) if given)."""
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        shape = getattr(y, "shape", None)
        raise TypeError(f"{name} must be a 1-D numpy array of integer labels, got "
                        f"{type(y).__name__}" + (f" of shape {shape}" if shape else ""))
    return check_labels(y, name, y.shape[0] if n is None else n,
                        np.iinfo(np.int64).max if num_classes is None else num_classes)


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Counts (num_classes, num_classes) int64: row = true class, column = predicted class.

    y_true, y_pred : (N,) integer labels in [0, num_classes).
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    y_true = _labels(y_true, "y_true", None, num_classes)
    y_pred = _labels(y_pred, "y_pred", y_true.shape[0], num_classes)
    flat = y_true.astype(np.int64) * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def misclassified(y_true, y_pred, probs=None, *, limit: int | None = None) -> np.ndarray:
    """Indices of the wrong predictions, (M,) int64.

    y_true, y_pred : (N,) integer labels.
    Without ``probs`` they come in dataset order; with ``probs`` (N, K) (softmax outputs
    or logits) the most confident mistakes come first. ``limit`` keeps the first ``limit``.
    """
    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred", y_true.shape[0])
    wrong = np.flatnonzero(y_true != y_pred)
    if probs is not None:
        check_array(probs, "probs", 2, axis_names="(N, num_classes)")
        if probs.shape[0] != y_true.shape[0]:
            raise ValueError(f"probs must have {y_true.shape[0]} rows to match y_true, "
                             f"got shape {probs.shape}")
        confidence = probs[wrong, y_pred[wrong]]
        wrong = wrong[np.argsort(-confidence, kind="stable")]
    if limit is not None:
        wrong = wrong[:check_int(limit, "limit")]
    return wrong.astype(np.int64)


# ----------------------------------------------------------------------------- save / load
_STATE = "state/"
_META = "__metadata__"


def save_model(model, path, *, arch: str | None = None, arch_options: dict | None = None,
               **metadata) -> Path:
    """Save ``model``'s parameters and buffers to a ``.npz`` file, with metadata.

    arch : the ``course_lib.models.MODELS`` name that rebuilds the model (default: the
        ``model.arch`` attribute that ``build_model``/``seed_net``/``lenet`` set). With no
        name, ``load_model`` needs ``model=`` to load into.
    arch_options : keyword arguments of the builder (default ``model.arch_options``).
    metadata : JSON-serialisable values (numbers, strings, lists, dicts) stored alongside.
    Returns the path written.
    """
    _check_model(model)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    arch = getattr(model, "arch", None) if arch is None else arch
    if arch is not None and arch not in MODELS:
        raise ValueError(f"arch must be one of {sorted(MODELS)} or None, got {arch!r}")
    options = getattr(model, "arch_options", {}) if arch_options is None else arch_options
    meta = {"arch": arch, "arch_options": options, **metadata}
    try:
        meta_json = json.dumps(meta)
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable (numbers, strings, lists, "
                        f"dicts): {exc}") from None
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {_STATE + k: v for k, v in model.state_dict().items()}
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays, **{_META: np.array(meta_json)})
    return path


def load_model(path, model=None, rng=0):
    """Load a model saved by ``save_model``; returns it with ``model.metadata`` (a dict).

    model : a model with the same architecture to load into; by default the model is
        rebuilt from the saved ``arch`` name, in the saved dtype.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
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
    else:
        _check_model(model)
    model.load_state_dict(state)
    model.metadata = meta
    return model


# ----------------------------------------------------------------------------- CLI
DEFAULTS = {  # tuned on full MNIST: see benchmarks/README.md
    "mlp": {"optimizer": "adam", "lr": 3e-3, "schedule": "cosine", "warmup": 200},
    "seed": {"optimizer": "adam", "lr": 1e-2, "schedule": "cosine", "warmup": 200},
    "lenet": {"optimizer": "adam", "lr": 3e-3, "schedule": "restarts", "warmup": 200},
    "resnet": {"optimizer": "adam", "lr": 1e-2, "schedule": "cosine", "warmup": 200},
}


def make_optimizer(name: str, params, lr: float, *, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> Optimizer:
    """``"adam"`` -> Adam(params, lr); ``"sgd"`` -> SGD(params, lr, momentum)."""
    if name == "adam":
        return Adam(params, lr, weight_decay=weight_decay)
    if name == "sgd":
        return SGD(params, lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


RESTART_DECAY = 0.7  # "restarts": each epoch's peak learning rate is 0.7 times the last


def make_schedule(name: str, optimizer, total_steps: int, *, warmup: int = 0,
                  steps_per_epoch: int = 1) -> LRSchedule | None:
    """The CLI's schedules, by name.

    ``"cosine"``: warm-up, then one cosine decay over all ``total_steps``.
    ``"restarts"``: warm-up, then a cosine decay within every epoch, each epoch starting
    from ``RESTART_DECAY`` times the last one's peak (settled weights at every epoch's end).
    ``"step"``: x0.1 every 2 epochs. ``"none"``: constant (returns None).
    """
    if name == "cosine":
        return WarmupCosineLR(optimizer, total_steps, warmup_steps=min(warmup, total_steps - 1))
    if name == "restarts":
        return CosineRestartsLR(optimizer, steps_per_epoch, decay=RESTART_DECAY,
                                warmup_steps=min(warmup, steps_per_epoch - 1))
    if name == "step":
        return StepLR(optimizer, 2 * steps_per_epoch, gamma=0.1)
    if name == "none":
        return None
    raise ValueError(f"schedule must be 'cosine', 'restarts', 'step' or 'none', got {name!r}")


VAL_SIZE = 5000  # 60,000 MNIST training images = 55,000 to train on + 5,000 to choose with
SPLIT_SEED = 0   # the same validation images for every run, whatever --seed


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_lib.train",
        description="Train one of the course's networks on MNIST with NumPy: report the time "
                    "and validation accuracy of every epoch (the validation images are held "
                    "out of the training set); with --test, score the test set once, at the end.")
    p.add_argument("--model", choices=sorted(MODELS), default="lenet")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=None,
                   help="default: adam (tuned per model)")
    p.add_argument("--lr", type=float, default=None,
                   help="default: tuned per model for adam, 0.05 for sgd")
    p.add_argument("--momentum", type=float, default=0.9, help="for --optimizer sgd")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", choices=["cosine", "restarts", "step", "none"], default=None,
                   help="cosine: linear warm-up, then cosine decay over all epochs (seed's "
                        "default); restarts: warm-up, then cosine decay within each epoch "
                        "from a peak 0.7 times the last epoch's (lenet's default)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up steps for cosine and restarts")
    p.add_argument("--seed", type=int, default=0, help="initial weights and batch order")
    p.add_argument("--val-size", type=int, default=VAL_SIZE,
                   help=f"training images held out for validation (default {VAL_SIZE}; "
                        f"the split is fixed by seed {SPLIT_SEED})")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    p.add_argument("--test", action="store_true",
                   help="score the test set once at the end: only for a final run, after every "
                        "choice was made on validation")
    p.add_argument("--save", default=None, help="write the trained weights here (.npz)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)  # tests: N images
    return p


def main(argv=None) -> History:
    """Command-line entry point; returns the History (for tests)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "limit", "val_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    defaults = DEFAULTS[args.model]
    opt_name = args.optimizer or defaults["optimizer"]
    lr = args.lr if args.lr is not None else (defaults["lr"] if opt_name == defaults["optimizer"]
                                              else 0.05)
    sched_name = args.schedule or defaults["schedule"]
    warmup = defaults["warmup"] if args.warmup is None else args.warmup
    dtype = check_dtype(args.dtype)

    data = load_mnist(args.dataset)
    if args.dataset == "mnist":
        norm = {}
    else:
        from .data import FASHION_MNIST_MEAN, FASHION_MNIST_STD
        norm = {"mean": FASHION_MNIST_MEAN, "std": FASHION_MNIST_STD}
    x_train, y_train, x_test, y_test = data
    if args.limit is not None:  # tests: the first N training images (then split) and N test
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:args.limit], y_test[:args.limit]
    if args.val_size >= len(x_train):
        parser.error(f"--val-size must be < {len(x_train)} (the training images), "
                     f"got {args.val_size}")
    x_train, y_train, x_val, y_val = train_val_split(x_train, y_train, args.val_size,
                                                     seed=SPLIT_SEED)
    x_train, x_val, x_test = (normalize(x, dtype=dtype, **norm) for x in (x_train, x_val, x_test))
    rng = np.random.default_rng(args.seed)
    model = build_model(args.model, rng, dtype=dtype)
    optimizer = make_optimizer(opt_name, model.params, lr, momentum=args.momentum,
                               weight_decay=args.weight_decay)
    opt_repr = repr(optimizer)  # before the schedule sets the lr of step 0
    steps = math.ceil(len(x_train) / args.batch_size)
    schedule = make_schedule(sched_name, optimizer, args.epochs * steps, warmup=warmup,
                             steps_per_epoch=steps)
    print(f"{args.model}: {sum(p.size for p in model.params.values()):,} parameters, "
          f"{len(x_train):,} training / {len(x_val):,} validation images, {dtype}, "
          f"batch {args.batch_size}, {opt_repr}, schedule {schedule!r}", flush=True)
    header = f"{'epoch':>5} | {'time (s)':>8} | {'train loss':>10} | {'train acc':>9} | " \
             f"{'val loss':>8} | {'val acc':>7}"
    rows = []

    def report(epoch, h):
        rows.append(f"{epoch + 1:>5} | {h.epoch_time[-1]:>8.1f} | {h.epoch_loss[-1]:>10.4f} | "
                    f"{h.epoch_acc[-1]:>9.2%} | {h.val_loss[-1]:>8.4f} | {h.val_acc[-1]:>7.2%}")
        if args.no_progress:
            if epoch == 0:
                print(header + "\n" + "-" * len(header), flush=True)
            print(rows[-1], flush=True)

    history = fit(model, CrossEntropyLoss(), optimizer, (x_train, y_train), args.epochs,
                  args.batch_size, val=(x_val, y_val), schedule=schedule, seed=rng,
                  progress=not args.no_progress, on_epoch_end=report)
    if not args.no_progress:  # the bars are done: print the whole table once, cleanly
        print("\n" + header + "\n" + "-" * len(header) + "\n" + "\n".join(rows))
    print(f"total training time {sum(history.epoch_time):.1f} s; final validation accuracy "
          f"{history.val_acc[-1]:.2%}")
    scores = {}
    if args.test:  # the test set, once, at the end of a final run
        scores["test_loss"], scores["test_accuracy"] = evaluate(model, x_test, y_test)
        print(f"test accuracy (scored once) {scores['test_accuracy']:.2%}")
    if args.save:
        command = "python -m course_lib.train " + shlex.join(argv)
        path = save_model(model, args.save, command=command, dataset=args.dataset,
                          epochs=args.epochs, batch_size=args.batch_size, optimizer=opt_repr,
                          lr=lr, schedule=repr(schedule), seed=args.seed, dtype=str(dtype),
                          val_size=args.val_size, val_accuracy=history.val_acc[-1], **scores,
                          history={k: v for k, v in history.to_dict().items()
                                   if not k.startswith("step_") and k != "lr"},
                          numpy=np.__version__, python=platform.python_version(),
                          trained_on=time.strftime("%Y-%m-%d", time.gmtime()))
        print(f"saved {path} ({path.stat().st_size / 1024:.0f} KB)")
    return history


if __name__ == "__main__":
    main()
