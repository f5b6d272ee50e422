"""``DigitCanvas``: a square canvas to draw a digit on with the mouse, a pen or a finger.

An anywidget (its view is ``digit_canvas.js``, plain JavaScript with no build step): strokes
are painted in the browser, so drawing never waits for the kernel; when a stroke ends, the
canvas's grey levels reach Python as ``value`` (one byte per pixel) and ``drawing`` gives them
as an array. A Clear button under the canvas wipes it. Setting ``drawing`` (or ``value``)
from Python repaints the canvas, e.g. with a test digit to draw over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import numpy.typing as npt
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

from ..validate import check_array, check_int, check_real

__all__ = ["DigitCanvas"]


class DigitCanvas(anywidget.AnyWidget):
    """A ``size`` x ``size`` black canvas drawn on in white with a round ``brush``.

    value : bytes, ``size * size`` grey levels (row-major, 0 = background, 255 = ink); empty
        bytes for a blank canvas. Set by the browser when a stroke ends or Clear is pressed.
    drawing : the same as a (size, size) uint8 array (settable).
    """

    _esm = Path(__file__).with_name("digit_canvas.js")
    value = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    size = traitlets.Int(280).tag(sync=True)
    brush = traitlets.Float(22.0).tag(sync=True)

    def __init__(self, size: int = 280, brush: float = 22.0, **kwargs: Any) -> None:
        super().__init__(size=check_int(size, "size", 28, 2000),
                         brush=check_real(brush, "brush", minimum=1.0, maximum=size / 2), **kwargs)

    @traitlets.validate("value")
    def _check_value(self, proposal: dict[str, Any]) -> bytes:
        value = bytes(proposal["value"])
        if len(value) not in (0, self.size * self.size):
            raise ValueError(f"value must hold size * size = {self.size * self.size} grey "
                             f"levels (or none), got {len(value)} bytes")
        return value

    @property
    def drawing(self) -> npt.NDArray[np.uint8]:
        """The canvas as (size, size) uint8 grey levels (zeros when blank)."""
        if not self.value:
            return np.zeros((self.size, self.size), dtype=np.uint8)
        return np.frombuffer(self.value, dtype=np.uint8).reshape(self.size, self.size).copy()

    @drawing.setter
    def drawing(self, image: npt.NDArray[Any]) -> None:
        check_array(image, "drawing", 2, floating=False, axis_names="(size, size)")
        if image.shape != (self.size, self.size):
            raise ValueError(f"drawing must have shape ({self.size}, {self.size}), got "
                             f"{image.shape}")
        if image.dtype != np.uint8:
            raise TypeError(f"drawing must be uint8 grey levels, got dtype {image.dtype}")
        self.value = image.tobytes()

    def clear(self) -> None:
        """Wipe the canvas (as its Clear button does)."""
        self.value = b""
