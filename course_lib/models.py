"""The course's MNIST networks, built from ``course_lib.layers``.

``mlp``       the classic from-scratch multilayer perceptron 784 -> 256 -> 64 -> 10 with
              ReLU (about 218 k parameters): no convolution, the baseline CNNs must beat.
``seed_net``  the tutorial's first CNN: one 3x3 convolution, a 2x2 max pool and a linear
              classifier (about 13.6 k parameters).
``lenet``     a LeNet-5-style net: two 5x5 conv + ReLU + pool blocks, then two linear
              layers (about 0.1 M parameters).
``resnet_small`` a small ResNet: 3x3 convolutions with batch norm, two residual blocks and
              global average pooling (about 28 k parameters).

Each returns a ``Sequential`` that maps (N, 1, 28, 28) images to (N, 10) logits; train them
with ``CrossEntropyLoss`` (softmax cross-entropy) on top. ``MODELS`` maps a name to its
builder so saved weights (``course_lib.train.save_model``) can record which net they fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .layers import (
    CLASSIFIER_GAIN,
    BatchNorm2d,
    Conv2d,
    Flatten,
    GlobalAvgPool2d,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Residual,
)
from .model import Sequential
from .validate import as_rng, check_dtype

__all__ = ["mlp", "seed_net", "lenet", "resnet_small", "MODELS", "build_model"]


Seed = int | np.random.Generator | None  # an int seed, a Generator, or None (unseeded)


def mlp(rng: Seed = None, *, dtype: npt.DTypeLike = np.float32) -> Sequential:
    """The multilayer perceptron 784 -> 256 -> 64 -> 10 with ReLU.

    x: (N, 1, 28, 28) -> Flatten (N, 784) -> Linear(784, 256) -> ReLU
    -> Linear(256, 64) -> ReLU -> Linear(64, 10) (N, 10) logits.

    Every pixel gets its own weight into every hidden unit: nothing tells the network that
    neighbouring pixels belong together, or that a stroke means the same wherever it is.

    rng : int seed or np.random.Generator for the initial weights (He-normal, the
        classifier with ``CLASSIFIER_GAIN``).
    dtype : float32 (default) or float64.
    """
    rng, dtype = as_rng(rng), check_dtype(dtype)
    net = Sequential(
        Flatten(),
        Linear(28 * 28, 256, dtype=dtype, rng=rng), ReLU(),
        Linear(256, 64, dtype=dtype, rng=rng), ReLU(),
        Linear(64, 10, dtype=dtype, rng=rng, gain=CLASSIFIER_GAIN),
    )
    return _named(net, "mlp")


def seed_net(rng: Seed = None, *, relu: bool = False,
             dtype: npt.DTypeLike = np.float32) -> Sequential:
    """The tutorial's seed network: Conv2d(1, 8, 3) -> MaxPool2d(2) -> Flatten -> Linear.

    x: (N, 1, 28, 28) -> conv (N, 8, 26, 26) -> pool (N, 8, 13, 13) -> (N, 1352) -> (N, 10).

    Faithful to the reference tutorial there is no non-linearity between the convolution
    and the classifier: max pooling is the only one, and it is enough for ~97.5% test
    accuracy on MNIST after 3 epochs (Adam, lr 1e-2, warm-up + cosine, batch 64).
    ``relu=True`` inserts a ReLU after the convolution; with the same recipe it reached
    98.3% (ReLU then max pool = max pool then ReLU: negative maxima are zeroed).

    rng : int seed or np.random.Generator for the initial weights (He-normal, the
        classifier with ``CLASSIFIER_GAIN``).
    dtype : float32 (default) or float64.
    """
    rng, dtype = as_rng(rng), check_dtype(dtype)
    layers: list[Layer] = [Conv2d(1, 8, 3, dtype=dtype, rng=rng)]
    if relu:
        layers.append(ReLU())
    layers += [MaxPool2d(2), Flatten(), Linear(8 * 13 * 13, 10, dtype=dtype, rng=rng,
                                                      gain=CLASSIFIER_GAIN)]
    return _named(Sequential(*layers), "seed", relu=relu)


def lenet(rng: Seed = None, *, dtype: npt.DTypeLike = np.float32) -> Sequential:
    """A LeNet-5-style CNN for 28x28 digits.

    x: (N, 1, 28, 28)
    -> Conv2d(1, 16, 5, padding=2) -> ReLU -> MaxPool2d(2)   (N, 16, 14, 14)
    -> Conv2d(16, 32, 5)           -> ReLU -> MaxPool2d(2)   (N, 32, 5, 5)
    -> Flatten -> Linear(800, 128) -> ReLU -> Linear(128, 10) (N, 10) logits.

    rng : int seed or np.random.Generator for the initial weights (He-normal, the
        classifier with ``CLASSIFIER_GAIN``).
    dtype : float32 (default) or float64.
    """
    rng, dtype = as_rng(rng), check_dtype(dtype)
    net = Sequential(
        Conv2d(1, 16, 5, padding=2, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
        Conv2d(16, 32, 5, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
        Flatten(),
        Linear(32 * 5 * 5, 128, dtype=dtype, rng=rng), ReLU(),
        Linear(128, 10, dtype=dtype, rng=rng, gain=CLASSIFIER_GAIN),
    )
    return _named(net, "lenet")


def resnet_small(rng: Seed = None, *, dtype: npt.DTypeLike = np.float32) -> Sequential:
    """A small ResNet for 28x28 digits: 3x3 convolutions, batch norm, two residual blocks,
    global average pooling.

    x: (N, 1, 28, 28)
    -> Conv2d(1, 16, 3, padding=1) -> BN -> ReLU -> MaxPool2d(2)        (N, 16, 14, 14)
    -> Residual(block(16)) -> ReLU                                       (N, 16, 14, 14)
    -> Conv2d(16, 32, 3, stride=2, padding=1) -> BN -> ReLU              (N, 32, 7, 7)
    -> Residual(block(32)) -> ReLU                                       (N, 32, 7, 7)
    -> GlobalAvgPool2d (N, 32) -> Linear(32, 10) (N, 10) logits,
    with block(C) = Conv2d(C, C, 3, padding=1) -> BN -> ReLU -> Conv2d(C, C, 3, padding=1) -> BN
    (out = relu(x + block(x)), the original ResNet's "basic block").

    Convolutions followed by batch norm have no bias (BN's beta does that job). The stage
    change (16 -> 32 channels, 14 -> 7 pixels) is a plain stride-2 convolution; real ResNets
    put a 1x1 stride-2 convolution on the skip path there instead.

    rng : int seed or np.random.Generator for the initial weights (He-normal, the
        classifier with ``CLASSIFIER_GAIN``).
    dtype : float32 (default) or float64.
    """
    rng, dtype = as_rng(rng), check_dtype(dtype)

    def conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[Layer]:
        return [Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, dtype=dtype,
                       rng=rng), BatchNorm2d(c_out, dtype=dtype)]

    def block(c: int) -> Residual:
        return Residual(Sequential(*conv_bn(c, c), ReLU(), *conv_bn(c, c)))

    net = Sequential(
        *conv_bn(1, 16), ReLU(), MaxPool2d(2),
        block(16), ReLU(),
        *conv_bn(16, 32, stride=2), ReLU(),
        block(32), ReLU(),
        GlobalAvgPool2d(),
        Linear(32, 10, dtype=dtype, rng=rng, gain=CLASSIFIER_GAIN),
    )
    return _named(net, "resnet")


def _named(net: Sequential, arch: str, **options: Any) -> Sequential:
    """Record how to rebuild ``net`` (``save_model`` stores it): ``MODELS[arch](**options)``."""
    net.arch, net.arch_options = arch, options
    return net


MODELS: dict[str, Callable[..., Sequential]] = {"mlp": mlp, "seed": seed_net, "lenet": lenet,
                                               "resnet": resnet_small}


def build_model(name: str, rng: Seed = None, **kwargs: Any) -> Sequential:
    """Build the registered model ``name`` (a key of ``MODELS``) with ``rng`` and options."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](rng, **kwargs)
