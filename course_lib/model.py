"""``Sequential``: layers applied in order, gradients passed back in reverse."""

from __future__ import annotations

from typing import Any, Literal, Self, overload

import numpy as np
import numpy.typing as npt

from .layers import Layer, MaxPool2d, ReLU
from .validate import Array, check_array, check_dtype

__all__ = ["Sequential"]


class Sequential(Layer):
    """A chain of layers, like ``torch.nn.Sequential``.

    ``params`` / ``grads`` / ``buffers`` are flat dicts keyed ``"<index>.<name>"``
    (e.g. ``"0.weight"``), the same keys as a PyTorch ``state_dict``; their arrays are
    the layers' own, so an optimiser that updates ``params`` in place trains the model.
    """

    def __init__(self, *layers: Layer):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a course_lib Layer, got {type(layer).__name__}")
        self.layers = list(layers)
        self.training = True
        self._order: list[int] = []   # the layers' order in the last forward (run_order)
        # How to rebuild this net, ``course_lib.models.MODELS[arch](**arch_options)`` (set by
        # the builders there; None: built by hand), and what ``train.load_model`` read with it.
        self.arch: str | None = None
        self.arch_options: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}

    def _gather(self, attr):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, attr).items()}

    params = property(lambda self: self._gather("params"), doc="all layers' parameters")
    grads = property(lambda self: self._gather("grads"), doc="all layers' gradients")
    buffers = property(lambda self: self._gather("buffers"), doc="running statistics")

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: Array) -> Array:
        """Apply each layer in turn; returns the last output.

        An output that only this loop holds (its layer keeps none: ``Layer.output_is_free``)
        goes to the next layer's ``forward_``, which may overwrite it: ReLU then works in
        place, as ``torch.nn.ReLU(inplace=True)``. ``x`` itself is never overwritten.

        A ReLU followed by a MaxPool2d runs after it instead (``run_order``): the two
        commute, max_pool(relu(x)) = relu(max_pool(x)), gradients included, and the ReLU
        then works on the pooled map, a quarter of the size for 2x2 windows.
        """
        self._order = self.run_order()
        free = False
        for i in self._order:
            layer = self.layers[i]
            x = layer.forward_(x) if free else layer.forward(x)
            free = layer.output_is_free
        return x

    def run_order(self) -> list[int]:
        """The order in which ``forward`` runs the layers: their indices, with each ReLU
        that is followed by a MaxPool2d moved after it.

        Why that changes nothing: ReLU and max are both non-decreasing, so the largest of
        relu(x_i) is relu of the largest x_i. Backward, the pooling sends the gradient to the
        window's first maximum and ReLU keeps it where that maximum is positive, in either
        order: a window whose maximum is <= 0 gets no gradient at all both ways (ReLU first,
        all its entries are 0 and the first of them takes a gradient times 0). The numbers are
        the same to the bit.
        """
        order = list(range(len(self.layers)))
        i = 0
        while i < len(order) - 1:
            if type(self.layers[i]) is ReLU and type(self.layers[i + 1]) is MaxPool2d:
                order[i], order[i + 1] = i + 1, i
                i += 2
            else:
                i += 1
        return order

    def forward_with_activations(self, x: Array) -> list[Array]:
        """Outputs of every layer, in order (for feature-map pictures)."""
        outs = []
        self._order = list(range(len(self.layers)))  # what backward then follows
        for layer in self.layers:
            x = layer.forward(x)
            outs.append(x)
        return outs

    @overload
    def backward(self, dout: Array, input_grad: Literal[True] = ...) -> Array: ...
    @overload
    def backward(self, dout: Array, input_grad: Literal[False]) -> None: ...
    @overload
    def backward(self, dout: Array, input_grad: bool) -> Array | None: ...

    def backward(self, dout: Array, input_grad: bool = True) -> Array | None:
        """Back-propagate ``dout`` through the layers in reverse; returns dx.

        ``input_grad=False`` skips the gradient of the model's input (returns None), as
        PyTorch does for an input that does not require grad: training needs only the
        parameters' gradients, and the first conv's dx costs as much as its dW.
        """
        order = self._order or self.run_order()   # the order of the last forward
        grad = dout
        for i in reversed(order[1:]):
            # a gradient made in this loop (sharing no memory with the caller's dout) may be
            # overwritten by the layer that receives it (``Layer.backward_``)
            mine = not np.may_share_memory(grad, dout)
            layer = self.layers[i]
            grad = layer.backward_(grad) if mine else layer.backward(grad)
        if input_grad:
            return self.layers[order[0]].backward(grad)
        self.layers[order[0]].backward_params(grad)
        return None

    def train(self, mode: bool = True) -> Self:
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def astype(self, dtype: npt.DTypeLike) -> Self:
        check_dtype(dtype)
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed like ``params``."""
        return {k: v.copy() for k, v in {**self.params, **self.buffers}.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays from ``state`` into the model (cast to the model's dtype).

        Keys and shapes must match, and values must be finite."""
        own = {**self.params, **self.buffers}
        missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
        if missing or unexpected:
            raise ValueError(f"state keys do not match the model: missing {sorted(missing)}, "
                             f"unexpected {sorted(unexpected)}")
        for k, v in own.items():
            new = np.asarray(state[k])
            if new.shape != v.shape:
                raise ValueError(f"state[{k!r}] must have shape {v.shape}, got {new.shape}")
            check_array(new, f"state[{k!r}]", nonempty=False)
            v[...] = new.astype(v.dtype)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): " + repr(layer).replace("\n", "\n  ")
                        for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"
