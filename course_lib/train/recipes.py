"""The course's training recipes: the tuned optimiser and schedule of each network, and the
fixed split of MNIST's training images that every run chooses on.

    recipe = DEFAULTS["lenet"]   # {"optimizer": "adam", "lr": 0.003, "schedule": ...}
    optimizer = make_optimizer(recipe["optimizer"], model.params, recipe["lr"])
    schedule = make_schedule(recipe["schedule"], optimizer, epochs * steps,
                             warmup=recipe["warmup"], steps_per_epoch=steps)
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from ..optim import SGD, Adam, CosineRestartsLR, LRSchedule, Optimizer, StepLR, WarmupCosineLR

__all__ = ["Recipe", "DEFAULTS", "make_optimizer", "make_schedule", "RESTART_DECAY",
           "VAL_SIZE", "SPLIT_SEED"]


class Recipe(TypedDict):
    optimizer: str   # "adam" or "sgd"
    lr: float
    schedule: str    # "cosine", "restarts", "step" or "none"
    warmup: int      # warm-up steps


DEFAULTS: dict[str, Recipe] = {  # tuned on full MNIST: see benchmarks/README.md
    "mlp": {"optimizer": "adam", "lr": 3e-3, "schedule": "cosine", "warmup": 200},
    "seed": {"optimizer": "adam", "lr": 1e-2, "schedule": "cosine", "warmup": 200},
    "lenet": {"optimizer": "adam", "lr": 3e-3, "schedule": "restarts", "warmup": 200},
    "resnet": {"optimizer": "adam", "lr": 1e-2, "schedule": "cosine", "warmup": 200},
}

VAL_SIZE = 5000  # 60,000 MNIST training images = 55,000 to train on + 5,000 to choose with
SPLIT_SEED = 0   # the same validation images for every run, whatever the run's seed
RESTART_DECAY = 0.7  # "restarts": each epoch's peak learning rate is 0.7 times the last


def make_optimizer(name: str, params: dict[str, np.ndarray], lr: float, *,
                   momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """``"adam"`` -> Adam(params, lr); ``"sgd"`` -> SGD(params, lr, momentum)."""
    if name == "adam":
        return Adam(params, lr, weight_decay=weight_decay)
    if name == "sgd":
        return SGD(params, lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def make_schedule(name: str, optimizer: Optimizer, total_steps: int, *, warmup: int = 0,
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
