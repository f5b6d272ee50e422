"""Layers like ``torch.nn``: stateful wrappers over ``course_lib.functional``.

Every layer has ``forward(x) -> out`` (also ``layer(x)``), ``backward(dout) -> dx``,
and two dicts with the same keys: ``params`` (e.g. ``weight`` shaped like PyTorch's,
``bias``) and ``grads``, which ``backward`` fills (overwriting, not accumulating).
Optimisers update ``params`` arrays in place. ``train()`` / ``eval()`` switch the mode
of Dropout and BatchNorm2d. Weights are drawn from N(0, gain² / fan_in) with a seeded
generator: the default gain √2 is He (Kaiming) initialisation, right for a layer followed by
ReLU; a network's last Linear (the classifier) takes a small gain so that its untrained
softmax starts near uniform and its loss near ln(num_classes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from . import fast_conv, fast_pool, parallel
from . import functional as F
from .validate import (
    Array,
    IntArray,
    IntPair,
    Padding,
    Seed,
    Window,
    as_rng,
    check_array,
    check_dout,
    check_dtype,
    check_int,
    check_probability,
    check_real,
)
from .workspace import Workspace

__all__ = ["HE_GAIN", "CLASSIFIER_GAIN", "Layer", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU",
           "Flatten", "Linear", "Dropout", "BatchNorm2d", "CrossEntropyLoss",
           "GlobalAvgPool2d", "Residual"]


class Layer:
    """Base class: holds ``params``, ``grads``, ``buffers`` and the train/eval flag."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}  # state that is not learned (running stats)
        self.training = True
        self._cache: Any = None  # what backward needs from the last forward

    def __call__(self, x: Array) -> Array:
        return self.forward(x)

    def forward(self, x: Array) -> Array:
        raise NotImplementedError

    def backward(self, dout: Array) -> Array:
        raise NotImplementedError

    #: forward's output is a fresh array that the layer does not keep (for its backward or
    #: anything else): ``Sequential`` may let the next layer overwrite it (``forward_``).
    output_is_free: ClassVar[bool] = False

    def forward_(self, x: Array) -> Array:
        """``forward``, free to overwrite x, like PyTorch's in-place ops (``relu_``).
        ``Sequential`` calls it on arrays that no other code holds; layers that gain nothing
        from it just forward."""
        return self.forward(x)

    def backward_(self, dout: Array) -> Array:
        """``backward``, free to overwrite dout (see ``forward_``)."""
        return self.backward(dout)

    def backward_params(self, dout: Array) -> None:
        """Fill ``grads`` without computing dx (for the first layer of a model, whose input
        needs no gradient). Layers that can skip the dx work override this."""
        self.backward(dout)

    def __getstate__(self) -> dict:
        """Pickled (or deep-copied) without ``_cache``: what one backward needs is not
        part of the model."""
        return {**self.__dict__, "_cache": None}

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def train(self, mode: bool = True) -> Self:
        """Switch to training mode (or eval mode with ``mode=False``); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Self:
        """Switch to evaluation mode; returns self."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[Self]:
        """``with layer.evaluating(): ...`` runs in eval mode, then restores the mode."""
        was_training = self.training
        self.eval()
        try:
            yield self
        finally:
            self.train(was_training)

    def zero_grad(self) -> None:
        """Set every gradient to zero."""
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def astype(self, dtype: npt.DTypeLike) -> Self:
        """Convert params and buffers to float32 or float64 in place; returns self."""
        dtype = check_dtype(dtype)
        for store in (self.params, self.buffers):
            for k in store:
                store[k] = store[k].astype(dtype)
        self.grads = {}
        self._cache = None
        return self

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


HE_GAIN = float(np.sqrt(2.0))
CLASSIFIER_GAIN = 0.1
#: What a layer keeps of scratch memory between eval-mode calls: enough for LeNet on a batch
#: of 32 (an explorer's occlusion), not for a scoring batch of thousands.
EVAL_WORKSPACE_BYTES = 8 << 20


class _ScratchLayer(Layer):
    """A layer that keeps scratch memory between calls: ``workspace`` while training (the
    size of a training batch), ``eval_workspace`` in eval mode (at most
    ``EVAL_WORKSPACE_BYTES``: scoring a big batch takes fresh memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.workspace = Workspace()
        self.eval_workspace = Workspace(max_bytes=EVAL_WORKSPACE_BYTES)

    def _scratch(self) -> Workspace:
        """The workspace of the current mode."""
        return self.workspace if self.training else self.eval_workspace


def _init_normal(rng, shape, fan_in, gain, dtype):
    """Weights ~ N(0, gain² / fan_in). ``gain`` √2 is He (Kaiming): it keeps the mean square
    of activations constant through Linear/Conv + ReLU layers (ReLU zeroes half the signal)."""
    gain = check_real(gain, "gain", positive=True)
    return (rng.standard_normal(shape) * (gain / np.sqrt(fan_in))).astype(dtype)


class Conv2d(_ScratchLayer):
    """2-D convolution (cross-correlation), like ``torch.nn.Conv2d``.

    x: (N, in_channels, H, W) -> (N, out_channels, OH, OW).
    params: weight (out_channels, in_channels, KH, KW) ~ N(0, gain² / fan_in) with
    fan_in = in_channels * KH * KW (default gain √2: He), bias (out_channels,) zeros.
    The scratch arrays (im2col columns, col2im sums) live in the layer's own workspaces and
    are reused by the next call (``_ScratchLayer``); outputs and gradients are fresh arrays.
    """

    output_is_free = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1,
                 bias: bool = True, *, dtype: npt.DTypeLike = np.float32, rng: Seed = None,
                 gain: float = HE_GAIN) -> None:
        super().__init__()
        c_in = check_int(in_channels, "in_channels", 1)
        c_out = check_int(out_channels, "out_channels", 1)
        # Validated now (e.g. 'same' with stride 2 is rejected), not at the first forward.
        window = Window.conv(kernel_size, stride, padding, dilation)
        self.kernel_size, self.stride, self.dilation = window.kernel, window.stride, window.dilation
        self.padding = padding if isinstance(padding, str) else (window.pad4[0], window.pad4[2])
        dtype = check_dtype(dtype)
        fan_in = c_in * self.kernel_size[0] * self.kernel_size[1]
        self.params["weight"] = _init_normal(as_rng(rng), (c_out, c_in, *self.kernel_size),
                                             fan_in, gain, dtype)
        if bias:
            self.params["bias"] = np.zeros(c_out, dtype=dtype)

    def forward(self, x: Array) -> Array:
        out, self._cache = fast_conv.conv2d_forward(
            x, self.params["weight"], self.params.get("bias"), self.stride, self.padding,
            self.dilation, workspace=self._scratch())
        return out

    def backward(self, dout: Array) -> Array:
        return self._backward(dout, input_grad=True)

    def backward_params(self, dout: Array) -> None:
        self._backward(dout, input_grad=False)

    def _backward(self, dout, input_grad):
        dx, dw, db = fast_conv.conv2d_backward(dout, self._take_cache(), input_grad=input_grad)
        self.grads["weight"] = dw
        if db is not None:
            self.grads["bias"] = db
        return dx

    def extra_repr(self) -> str:
        c_out, c_in = self.params["weight"].shape[:2]
        return (f"{c_in}, {c_out}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}" + (f", dilation={self.dilation}"
                                             if self.dilation != (1, 1) else "")
                + ("" if "bias" in self.params else ", bias=False"))


class _Pool2d(Layer):
    # set by subclasses to the functional pair
    _forward: Callable[..., tuple[np.ndarray, Any]]
    _backward: Callable[..., np.ndarray]

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0) -> None:
        super().__init__()
        window = Window.pool(kernel_size, stride, padding)
        self.kernel_size, self.stride = window.kernel, window.stride
        self.padding = (window.pad4[0], window.pad4[2])

    def forward(self, x: Array) -> Array:
        # the op (functional's, or fast_pool's max pooling), on parts of the batch when
        # course_lib.parallel has two threads
        out, self._cache = fast_pool.split_forward(type(self)._forward, x, self.kernel_size,
                                                   self.stride, self.padding)
        return out

    def backward(self, dout: Array) -> Array:
        return fast_pool.split_backward(type(self)._backward, dout, self._take_cache())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling, like ``torch.nn.MaxPool2d``; ties send the gradient to the first maximum.

    x: (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to ``kernel_size``.
    """

    _forward = staticmethod(fast_pool.max_pool2d_forward)
    _backward = staticmethod(fast_pool.max_pool2d_backward)


class AvgPool2d(_Pool2d):
    """Average pooling, like ``torch.nn.AvgPool2d`` (zero padding counts in the mean)."""

    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)


class ReLU(_ScratchLayer):
    """max(x, 0) elementwise; any shape.

    ``functional.relu_forward`` / ``relu_backward``'s numbers, with the mask x > 0 kept in
    the layer's scratch memory (both passes split over two threads when
    ``course_lib.parallel`` is set to two). ``forward`` and ``backward`` return fresh arrays;
    ``forward_`` and ``backward_`` (what ``Sequential`` calls on its own intermediate arrays)
    overwrite their argument instead, as ``torch.nn.ReLU(inplace=True)`` does: no new memory,
    one pass less over it.
    """

    output_is_free = True

    def forward(self, x: Array) -> Array:
        return self._forward(x, inplace=False)

    def forward_(self, x: Array) -> Array:
        return self._forward(x, inplace=True)

    def backward(self, dout: Array) -> Array:
        return self._backward(dout, inplace=False)

    def backward_(self, dout: Array) -> Array:
        return self._backward(dout, inplace=True)

    def _forward(self, x, inplace):
        check_array(x, "x")
        mask = self._scratch().empty("mask", x.shape, bool)
        out = x if inplace and _writable(x) else np.empty(x.shape, dtype=x.dtype)
        flat_x, flat_out, flat_mask = x.reshape(-1), out.reshape(-1), mask.reshape(-1)

        def part(a, b):
            np.greater(flat_x[a:b], 0, out=flat_mask[a:b])   # before out may overwrite x
            np.maximum(flat_x[a:b], 0, out=flat_out[a:b])

        parallel.split(part, x.size)
        self._cache = F.ReluCache(mask, x.dtype)
        return out

    def _backward(self, dout, inplace):
        mask, dtype = self._take_cache()
        check_dout(dout, mask.shape, dtype)
        dx = dout if inplace and _writable(dout) else np.empty(mask.shape, dtype=dtype)
        flat_d, flat_dx, flat_mask = dout.reshape(-1), dx.reshape(-1), mask.reshape(-1)
        parallel.split(lambda a, b: np.multiply(flat_d[a:b], flat_mask[a:b], out=flat_dx[a:b]),
                       dx.size)
        return dx


def _writable(a: np.ndarray) -> bool:
    """Can a be overwritten element by element through its flat view?"""
    return a.flags.c_contiguous and a.flags.writeable


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), like ``torch.nn.Flatten()``."""

    def forward(self, x: Array) -> Array:
        check_array(x, "x", finite=False)
        if x.ndim < 2:
            raise ValueError(f"x must have a batch axis and at least one more, got shape {x.shape}")
        self._cache = F.ShapeCache(x.shape, x.dtype)
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: Array) -> Array:
        x_shape, dtype = self._take_cache()
        flat = (x_shape[0], int(np.prod(x_shape[1:])))
        return check_dout(dout, flat, dtype).reshape(x_shape)


class Linear(Layer):
    """Fully connected layer, like ``torch.nn.Linear``: out = x @ weight.T + bias.

    x: (N, in_features) -> (N, out_features).
    params: weight (out_features, in_features) ~ N(0, gain² / in_features), bias zeros.
    gain: √2 (He) for a hidden layer followed by ReLU; ``CLASSIFIER_GAIN`` (0.1) for the
    last layer, so the untrained logits are near 0 and the loss near ln(out_features).
    """

    output_is_free = True

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype: npt.DTypeLike = np.float32, rng: Seed = None,
                 gain: float = HE_GAIN) -> None:
        super().__init__()
        d_in = check_int(in_features, "in_features", 1)
        d_out = check_int(out_features, "out_features", 1)
        dtype = check_dtype(dtype)
        self.params["weight"] = _init_normal(as_rng(rng), (d_out, d_in), d_in, gain, dtype)
        if bias:
            self.params["bias"] = np.zeros(d_out, dtype=dtype)

    def forward(self, x: Array) -> Array:
        out, self._cache = F.linear_forward(x, self.params["weight"], self.params.get("bias"))
        return out

    def backward(self, dout: Array) -> Array:
        dx, dw, db = F.linear_backward(dout, self._take_cache())
        self.grads["weight"] = dw
        if db is not None:
            self.grads["bias"] = db
        return dx

    def extra_repr(self) -> str:
        d_out, d_in = self.params["weight"].shape
        return f"in_features={d_in}, out_features={d_out}, bias={'bias' in self.params}"


class Dropout(Layer):
    """Inverted dropout, like ``torch.nn.Dropout``: in training, zero each entry with
    probability ``p`` and scale the rest by 1 / (1 - p); in eval mode, the identity."""

    def __init__(self, p: float = 0.5, *, rng: Seed = None) -> None:
        super().__init__()
        self.p = check_probability(p)
        self.rng = as_rng(rng)

    def forward(self, x: Array) -> Array:
        out, self._cache = F.dropout_forward(x, self.p, self.rng, self.training)
        return out

    def backward(self, dout: Array) -> Array:
        return F.dropout_backward(dout, self._take_cache())

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm2d(Layer):
    """Batch normalisation per channel, like ``torch.nn.BatchNorm2d``.

    x: (N, C, H, W). params: weight (gamma) and bias (beta), (C,).
    buffers: running_mean, running_var, used in eval mode.
    """

    output_is_free = True

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, *,
                 dtype: npt.DTypeLike = np.float32) -> None:
        super().__init__()
        c = check_int(num_features, "num_features", 1)
        dtype = check_dtype(dtype)
        self.eps, self.momentum = float(eps), float(momentum)
        self.params["weight"] = np.ones(c, dtype=dtype)
        self.params["bias"] = np.zeros(c, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(c, dtype=dtype)
        self.buffers["running_var"] = np.ones(c, dtype=dtype)

    def forward(self, x: Array) -> Array:
        out, self._cache = F.batch_norm2d_forward(
            x, self.params["weight"], self.params["bias"], self.buffers["running_mean"],
            self.buffers["running_var"], self.training, self.momentum, self.eps)
        return out

    def backward(self, dout: Array) -> Array:
        dx, self.grads["weight"], self.grads["bias"] = F.batch_norm2d_backward(
            dout, self._take_cache())
        return dx

    def extra_repr(self) -> str:
        return f"{self.params['weight'].shape[0]}, eps={self.eps}, momentum={self.momentum}"


class CrossEntropyLoss:
    """Mean cross-entropy from logits and integer labels, like ``torch.nn.CrossEntropyLoss``.

    ``loss = criterion(logits, target)`` with logits (N, K), target (N,);
    ``dlogits = criterion.backward()`` returns (softmax(logits) - onehot(target)) / N.
    """

    def __init__(self) -> None:
        self._cache: F.CrossEntropyCache | None = None

    def __call__(self, logits: Array, target: IntArray) -> float:
        return self.forward(logits, target)

    def forward(self, logits: Array, target: IntArray) -> float:
        loss, self._cache = F.cross_entropy_forward(logits, target)
        return loss

    def backward(self, dout: float = 1.0) -> Array:
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        return F.cross_entropy_backward(dout, self._cache)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()"


class GlobalAvgPool2d(Layer):
    """Global average pooling, (N, C, H, W) -> (N, C): the mean of each channel.

    Like ``torch.nn.AdaptiveAvgPool2d(1)`` followed by ``torch.nn.Flatten()``. No parameters;
    used instead of Flatten + big Linear layers at the end of a network (GoogLeNet, ResNet).
    """

    def forward(self, x: Array) -> Array:
        out, self._cache = F.global_avg_pool2d_forward(x)
        return out

    def backward(self, dout: Array) -> Array:
        return F.global_avg_pool2d_backward(dout, self._take_cache())


class Residual(Layer):
    """A skip connection around ``body``: out = x + body(x), as in ResNet.

    body : a Layer (usually a ``Sequential``) whose output has the shape of its input, e.g.
        ``Sequential(Conv2d(C, C, 3, padding=1), BatchNorm2d(C), ReLU(),
        Conv2d(C, C, 3, padding=1), BatchNorm2d(C))``.
    backward : dx = dout + body.backward(dout), since d(x + F(x))/dx = I + dF/dx: the
        identity path hands the upstream gradient to x unchanged, whatever F does.
    ``params`` / ``grads`` / ``buffers`` are the body's, keyed ``"body.<key>"`` (as in PyTorch
    for a module holding ``self.body``), so a ``Sequential`` containing a Residual at index 3
    has keys like ``"3.body.0.weight"``.
    """

    def __init__(self, body: Layer) -> None:
        if not isinstance(body, Layer):
            raise TypeError(f"body must be a course_lib Layer (e.g. a Sequential), got "
                            f"{type(body).__name__}")
        self.body = body
        self.training = body.training
        self._cache = None

    def _gather(self, attr):
        return {f"body.{k}": v for k, v in getattr(self.body, attr).items()}

    params = property(lambda self: self._gather("params"), doc="the body's parameters")
    grads = property(lambda self: self._gather("grads"), doc="the body's gradients")
    buffers = property(lambda self: self._gather("buffers"), doc="the body's buffers")

    def forward(self, x: Array) -> Array:
        check_array(x, "x", finite=False)
        fx = self.body.forward(x)
        if not isinstance(fx, np.ndarray) or fx.shape != x.shape:
            shape = getattr(fx, "shape", None)
            raise ValueError(f"body must return an array of its input's shape {x.shape} for "
                             f"x + body(x), got {shape}: keep the channels and the size (e.g. "
                             f"3x3 convolutions with padding=1, stride 1)")
        self._cache = F.ShapeCache(x.shape, x.dtype)
        return x + fx

    def backward(self, dout: Array) -> Array:
        shape, dtype = self._take_cache()
        check_dout(dout, shape, dtype)
        return dout + self.body.backward(dout)

    def train(self, mode: bool = True) -> Self:
        self.training = bool(mode)
        self.body.train(mode)
        return self

    def zero_grad(self) -> None:
        self.body.zero_grad()

    def astype(self, dtype: npt.DTypeLike) -> Self:
        check_dtype(dtype)
        self.body.astype(dtype)
        self._cache = None
        return self

    def __repr__(self) -> str:
        body = repr(self.body).replace("\n", "\n  ")
        return f"Residual(\n  (body): {body}\n)"
