"""The command line: train one of the course's networks on MNIST and report every epoch.

    python -m course_lib.train --model lenet --epochs 5 --save lenet.npz

It trains on 55,000 of the 60,000 training images (``recipes.VAL_SIZE`` are held out), prints
a table of each epoch's time and validation scores, and with ``--test`` scores the test set
once, at the end. ``--save`` writes the weights with the command, recipe and history.
"""

from __future__ import annotations

import argparse
import math
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import parallel
from ..data import (
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_MEAN,
    MNIST_STD,
    load_mnist,
    normalize,
    train_val_split,
)
from ..layers import CrossEntropyLoss
from ..models import MODELS, build_model
from ..validate import check_dtype
from .loop import History, evaluate, fit
from .recipes import DEFAULTS, SPLIT_SEED, VAL_SIZE, Recipe, make_optimizer, make_schedule
from .saving import save_model

__all__ = ["main"]

SGD_LR = 0.05  # --optimizer sgd on a model whose tuned recipe is Adam's
HEADER = (f"{'epoch':>5} | {'time (s)':>8} | {'train loss':>10} | {'train acc':>9} | "
          f"{'val loss':>8} | {'val acc':>7}")


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
                   help=f"default: tuned per model for adam, {SGD_LR} for sgd")
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
    p.add_argument("--threads", type=int, choices=[1, 2], default=None,
                   help="2: train on two cores, half of each batch in a second process "
                        "(course_lib.data_parallel); default: course_lib.parallel's setting")
    p.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)  # tests: N images
    return p


def _check_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error (code 2) for counts below 1 or a learning rate <= 0."""
    for name in ("epochs", "batch_size", "limit", "val_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")


def _recipe(args: argparse.Namespace) -> Recipe:
    """The flags' optimiser, learning rate, schedule and warm-up, else the model's DEFAULTS."""
    tuned = DEFAULTS[args.model]
    optimizer = args.optimizer or tuned["optimizer"]
    default_lr = tuned["lr"] if optimizer == tuned["optimizer"] else SGD_LR
    return Recipe(optimizer=optimizer, lr=default_lr if args.lr is None else args.lr,
                  schedule=args.schedule or tuned["schedule"],
                  warmup=tuned["warmup"] if args.warmup is None else args.warmup)


def _splits(parser: argparse.ArgumentParser, args: argparse.Namespace, dtype: np.dtype
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """[train, val, test] as (normalised images, labels) pairs, as the flags ask."""
    x_train, y_train, x_test, y_test = load_mnist(args.dataset)
    if args.limit is not None:  # tests: the first N training images (then split) and N test
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:args.limit], y_test[:args.limit]
    if args.val_size >= len(x_train):
        parser.error(f"--val-size must be < {len(x_train)} (the training images), "
                     f"got {args.val_size}")
    x_train, y_train, x_val, y_val = train_val_split(x_train, y_train, args.val_size,
                                                     seed=SPLIT_SEED)
    mean, std = (MNIST_MEAN, MNIST_STD) if args.dataset == "mnist" else \
        (FASHION_MNIST_MEAN, FASHION_MNIST_STD)
    return [(normalize(x, mean, std, dtype), y)
            for x, y in ((x_train, y_train), (x_val, y_val), (x_test, y_test))]


def _row(epoch: int, h: History) -> str:
    """The epoch's line of the table under ``HEADER``."""
    return (f"{epoch + 1:>5} | {h.epoch_time[-1]:>8.1f} | {h.epoch_loss[-1]:>10.4f} | "
            f"{h.epoch_acc[-1]:>9.2%} | {h.val_loss[-1]:>8.4f} | {h.val_acc[-1]:>7.2%}")


def main(argv: Sequence[str] | None = None) -> History:
    """Command-line entry point; returns the History (for tests)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    _check_numbers(parser, args)
    recipe, dtype = _recipe(args), check_dtype(args.dtype)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _splits(parser, args, dtype)

    rng = np.random.default_rng(args.seed)
    model = build_model(args.model, rng, dtype=dtype)
    optimizer = make_optimizer(recipe["optimizer"], model.params, recipe["lr"],
                               momentum=args.momentum, weight_decay=args.weight_decay)
    opt_repr = repr(optimizer)  # before the schedule sets the lr of step 0
    steps = math.ceil(len(x_train) / args.batch_size)
    schedule = make_schedule(recipe["schedule"], optimizer, args.epochs * steps,
                             warmup=recipe["warmup"], steps_per_epoch=steps)
    print(f"{args.model}: {sum(p.size for p in model.params.values()):,} parameters, "
          f"{len(x_train):,} training / {len(x_val):,} validation images, {dtype}, "
          f"batch {args.batch_size}, {opt_repr}, schedule {schedule!r}", flush=True)

    rows: list[str] = []

    def report(epoch: int, h: History) -> None:
        rows.append(_row(epoch, h))
        if args.no_progress:  # no bars to interleave with: print each row as it comes
            print(*([HEADER, "-" * len(HEADER)] if epoch == 0 else []), rows[-1], sep="\n",
                  flush=True)

    with parallel.threads(args.threads or parallel.get_num_threads()):
        history = fit(model, CrossEntropyLoss(), optimizer, (x_train, y_train), args.epochs,
                      args.batch_size, val=(x_val, y_val), schedule=schedule, seed=rng,
                      progress=not args.no_progress, on_epoch_end=report)
    if not args.no_progress:  # the bars are done: print the whole table once, cleanly
        print("", HEADER, "-" * len(HEADER), *rows, sep="\n")
    print(f"total training time {sum(history.epoch_time):.1f} s; final validation accuracy "
          f"{history.val_acc[-1]:.2%}")
    scores: dict[str, Any] = {}
    if args.test:  # the test set, once, at the end of a final run
        scores["test_loss"], scores["test_accuracy"] = evaluate(model, x_test, y_test)
        print(f"test accuracy (scored once) {scores['test_accuracy']:.2%}")
    if args.save:
        path = save_model(model, args.save, command="python -m course_lib.train " +
                          shlex.join(argv), dataset=args.dataset, epochs=args.epochs,
                          batch_size=args.batch_size, optimizer=opt_repr, lr=recipe["lr"],
                          schedule=repr(schedule), seed=args.seed, dtype=str(dtype),
                          val_size=args.val_size, val_accuracy=history.val_acc[-1], **scores,
                          history={k: v for k, v in history.to_dict().items()
                                   if not k.startswith("step_") and k != "lr"},
                          numpy=np.__version__, python=platform.python_version(),
                          trained_on=time.strftime("%Y-%m-%d", time.gmtime()))
        print(f"saved {path} ({path.stat().st_size / 1024:.0f} KB)")
    return history
