"""Small deterministic inputs for the explorers: a grayscale photo and MNIST digits."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from matplotlib import cbook

from ..validate import check_int

__all__ = ["sample_photo", "sample_digits"]


@functools.lru_cache(maxsize=4)
def _photo(size: int) -> npt.NDArray[np.float32]:
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as photo:
        img = photo.convert("L")
    width, height = img.size
    side = min(width, height)
    left = (width - side) // 2  # keep the top of the portrait: that is where the face is
    img = img.crop((left, 0, left + side, side))
    img = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / np.float32(255)


def sample_photo(size: int = 256) -> npt.NDArray[np.float32]:
    """Grace Hopper's portrait (shipped with matplotlib) as a grayscale photo.

    Returns a new (size, size) float32 array in [0, 1] (the top square of the portrait,
    area-averaged down to ``size``). size : 8 to 512.
    """
    return _photo(check_int(size, "size", 8, 512)).copy()


def sample_digits(n: int = 8) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.integer]]:
    """The first ``n`` digits of the bundled MNIST test set, as the lessons load them.

    Returns (images (n, 28, 28) uint8, background 0; labels (n,)); the first is a 7.
    """
    from ..data import load_mnist

    n = check_int(n, "n", 1, 10_000)
    data = load_mnist(download=False)
    return data.x_test[:n].copy(), data.y_test[:n].copy()
