"""Optimisers and learning-rate schedules, with PyTorch's update rules.

An optimiser holds the model's ``params`` dict (the layers' own arrays) and updates those
arrays *in place* from a ``grads`` dict with the same keys::

    opt = Adam(model.params, lr=1e-3)
    for xb, yb in batches:
        loss = criterion(model.forward(xb), yb)
        model.backward(criterion.backward())
        opt.step(model.grads)

A schedule changes ``optimizer.lr`` as training goes: it is built after the optimiser, sets
the learning rate for step 0, and its ``step()`` is called once after every optimiser step::

    sched = WarmupCosineLR(opt, total_steps=epochs * steps_per_epoch, warmup_steps=200)
    ...; opt.step(model.grads); sched.step()

Note: ``Layer.astype`` replaces parameter arrays, so build the optimiser after it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .validate import check_array, check_int, check_real

__all__ = ["Optimizer", "SGD", "Adam", "LRSchedule", "ConstantLR", "StepLR", "CosineLR",
           "WarmupCosineLR", "CosineRestartsLR"]


def _check_fraction(value, name: str) -> float:
    """Return ``value`` as a float in [0, 1) (a momentum or a beta: 1 would never forget)."""
    value = check_real(value, name, minimum=0.0)
    if value >= 1.0:
        raise ValueError(f"{name} must be < 1, got {value}")
    return value


class Optimizer:
    """Base class: validates ``params`` and ``grads``; subclasses implement ``_update``.

    params : dict name -> float array (updated in place), e.g. ``model.params``.
    lr : learning rate > 0; a schedule may change ``self.lr`` between steps.
    """

    def __init__(self, params: dict[str, npt.NDArray[np.floating]], lr: float):
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of arrays (e.g. model.params), got "
                            f"{type(params).__name__}")
        if not params:
            raise ValueError("params must not be empty: the model has no parameters to train")
        for k, p in params.items():
            check_array(p, f"params[{k!r}]")
        self.params = dict(params)
        self.lr = check_real(lr, "lr", positive=True)
        self.step_count = 0

    def _check_grads(self, grads: object) -> None:
        if not isinstance(grads, dict):
            raise TypeError(f"grads must be a dict of arrays (e.g. model.grads), got "
                            f"{type(grads).__name__}")
        missing = self.params.keys() - grads.keys()
        unexpected = grads.keys() - self.params.keys()
        if missing or unexpected:
            raise ValueError(f"grads must have the same keys as params: missing "
                             f"{sorted(missing)}, unexpected {sorted(unexpected)} (did you "
                             f"call model.backward before step?)")
        for k, p in self.params.items():
            g = check_array(grads[k], f"grads[{k!r}]")
            if g.shape != p.shape:
                raise ValueError(f"grads[{k!r}] must have the shape of params[{k!r}] "
                                 f"{p.shape}, got {g.shape}")
            if g.dtype != p.dtype:
                raise TypeError(f"grads[{k!r}] must have the dtype of params[{k!r}] "
                                f"({p.dtype}), got {g.dtype}")

    def step(self, grads: dict[str, npt.NDArray[np.floating]]) -> None:
        """Update every parameter in place from ``grads`` (same keys and shapes)."""
        self._check_grads(grads)
        self.lr = check_real(self.lr, "lr", minimum=0.0)
        self.step_count += 1
        for k, p in self.params.items():
            self._update(k, p, grads[k])

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"lr={self.lr}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD`` (dampening 0).

    g = grad + weight_decay * p
    v = momentum * v + g         (v starts at g on the first step)
    p = p - lr * v               (p = p - lr * g when momentum is 0)
    """

    def __init__(self, params: dict[str, npt.NDArray[np.floating]], lr: float,
                 momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _check_fraction(momentum, "momentum")
        self.weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0)
        self.velocity: dict[str, np.ndarray] = {}

    def _update(self, key, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            v = self.velocity.get(key)
            if v is None:
                v = self.velocity[key] = g.copy()
            else:
                v *= self.momentum
                v += g
            g = v
        p -= self.lr * g

    def extra_repr(self) -> str:
        return f"lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay}"


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (L2 ``weight_decay`` added to the gradient).

    m = b1 * m + (1 - b1) * g                 first moment (mean of g)
    v = b2 * v + (1 - b2) * g**2              second moment (uncentred variance)
    p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)
    The 1 - b**t factors (bias correction) undo the zero start of m and v; t counts steps.
    """

    def __init__(self, params: dict[str, npt.NDArray[np.floating]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(_check_fraction(b, f"betas[{i}]") for i, b in enumerate(betas))
        self.eps = check_real(eps, "eps", minimum=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0)
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def _update(self, key, p, g):
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + self.weight_decay * p
        if key not in self.m:
            self.m[key], self.v[key] = np.zeros_like(p), np.zeros_like(p)
        m, v = self.m[key], self.v[key]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        t = self.step_count
        step_size = self.lr / (1 - b1 ** t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2 ** t)
        denom += self.eps
        p -= step_size * (m / denom)

    def extra_repr(self) -> str:
        return (f"lr={self.lr}, betas={self.betas}, eps={self.eps}, "
                f"weight_decay={self.weight_decay}")


# ----------------------------------------------------------------------------- schedules
class LRSchedule:
    """Base class: maps the optimiser step ``t`` (0, 1, 2, ...) to a learning rate.

    Construction sets ``optimizer.lr = lr_at(0)`` and remembers the optimiser's lr as
    ``base_lr``; ``step()`` (once after each optimiser step) advances ``t`` and sets
    ``optimizer.lr = lr_at(t)``. ``lrs(n)`` lists the first n rates (for plotting).
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a course_lib.optim Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.t = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"base_lr={self.base_lr}"

    def step(self) -> float:
        """Advance one optimiser step; set and return the new learning rate."""
        self.t += 1
        self.optimizer.lr = self.lr_at(self.t)
        return self.optimizer.lr

    def lrs(self, n: int) -> npt.NDArray[np.float64]:
        """Learning rates for steps 0 .. n-1: (n,) float64."""
        n = check_int(n, "n")
        return np.array([self.lr_at(t) for t in range(n)], dtype=np.float64)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class ConstantLR(LRSchedule):
    """The same learning rate at every step (for comparisons)."""

    def lr_at(self, t: int) -> float:
        return self.base_lr

    def extra_repr(self) -> str:
        return f"lr={self.base_lr}"


class StepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    lr(t) = base_lr * gamma ** (t // step_size)
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = check_real(gamma, "gamma", positive=True)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)

    def extra_repr(self) -> str:
        return f"base_lr={self.base_lr}, step_size={self.step_size}, gamma={self.gamma}"


def _cosine(s: float, high: float, low: float) -> float:
    """Half a cosine from ``high`` (s = 0) down to ``low`` (s = 1)."""
    return low + (high - low) * 0.5 * (1.0 + math.cos(math.pi * s))


class _WarmupThenCosine(LRSchedule):
    """Linear warm-up, lr(t) = base_lr * (t + 1) / warmup_steps for t < warmup_steps, then the
    subclass's cosine decay towards ``min_lr`` (``_decay_at(t)``); the warm-up must end within
    ``span`` steps (the schedule's ``span_name``: total_steps, period)."""

    def __init__(self, optimizer: Optimizer, span: int, span_name: str, warmup_steps: int,
                 min_lr: float):
        self.warmup_steps = check_int(warmup_steps, "warmup_steps")
        if self.warmup_steps >= span:
            raise ValueError(f"warmup_steps must be < {span_name} = {span}, "
                             f"got {self.warmup_steps}")
        self.min_lr = check_real(min_lr, "min_lr", minimum=0.0)
        if isinstance(optimizer, Optimizer) and self.min_lr > optimizer.lr:
            raise ValueError(f"min_lr must be <= the optimizer's lr {optimizer.lr}, "
                             f"got {self.min_lr}")
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        if t < self.warmup_steps:
            return self.base_lr * (t + 1) / self.warmup_steps
        return self._decay_at(t)

    def _decay_at(self, t: int) -> float:
        raise NotImplementedError


class WarmupCosineLR(_WarmupThenCosine):
    """Linear warm-up, then cosine decay (a one-cycle-style schedule).

    t < warmup_steps:  lr(t) = base_lr * (t + 1) / warmup_steps
    afterwards:        lr(t) = min_lr + (base_lr - min_lr) * (1 + cos(pi * s)) / 2,
                       s = (t - warmup_steps) / (total_steps - warmup_steps), clipped to 1.

    The warm-up keeps Adam's first, noisy steps small; the slow decay at the end lets the
    weights settle into a minimum. Past ``total_steps`` the rate stays at ``min_lr``.
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0,
                 min_lr: float = 0.0):
        self.total_steps = check_int(total_steps, "total_steps", 1)
        super().__init__(optimizer, self.total_steps, "total_steps", warmup_steps, min_lr)

    def _decay_at(self, t: int) -> float:
        s = min(1.0, (t - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return _cosine(s, self.base_lr, self.min_lr)

    def extra_repr(self) -> str:
        return (f"base_lr={self.base_lr}, total_steps={self.total_steps}, "
                f"warmup_steps={self.warmup_steps}, min_lr={self.min_lr}")


class CosineLR(WarmupCosineLR):
    """Cosine decay from the optimiser's lr to ``min_lr`` over ``total_steps`` (no warm-up),
    like ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)``."""

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer, total_steps, warmup_steps=0, min_lr=min_lr)


class CosineRestartsLR(_WarmupThenCosine):
    """Cosine decay restarted every ``period`` steps, each cycle from a lower peak, after a
    linear warm-up (SGDR: Loshchilov & Hutter, 2017).

    Cycle k = t // period runs s = (t mod period) / period from 0 to 1:
        lr(t) = min_lr + (base_lr - min_lr) * decay**k * (1 + cos(pi * s)) / 2.
    The first cycle starts with ``warmup_steps`` of linear warm-up, as in ``WarmupCosineLR``,
    and its cosine spans the rest of the cycle. ``decay=1`` and no warm-up is
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=period, eta_min=min_lr)``.

    With a period of one epoch the rate is near ``min_lr`` at the end of every epoch, so
    the weights have settled whenever they are evaluated; the next epoch restarts higher
    and keeps learning.
    """

    def __init__(self, optimizer: Optimizer, period: int, decay: float = 1.0, warmup_steps: int = 0,
                 min_lr: float = 0.0):
        self.period = check_int(period, "period", 1)
        self.decay = check_real(decay, "decay", positive=True, maximum=1.0)
        super().__init__(optimizer, self.period, "period", warmup_steps, min_lr)

    def _decay_at(self, t: int) -> float:
        cycle, t_in = divmod(t, self.period)
        start = self.warmup_steps if cycle == 0 else 0
        s = (t_in - start) / (self.period - start)
        peak = self.min_lr + (self.base_lr - self.min_lr) * self.decay ** cycle
        return _cosine(s, peak, self.min_lr)

    def extra_repr(self) -> str:
        return (f"base_lr={self.base_lr}, period={self.period}, decay={self.decay}, "
                f"warmup_steps={self.warmup_steps}, min_lr={self.min_lr}")
