"""What a trained network looks at: MNIST's preprocessing of a drawn digit, saliency, occlusion.

    image = mnist_preprocess(canvas)              # any (H, W) drawing -> (28, 28) in [0, 1]
    x = normalize_image(image)                    # (1, 28, 28), as the shipped nets expect
    s = saliency(model, x)                        # d logit[class] / d x, by the course's backward
    o = occlusion(model, x, s.target)             # drop of p(class) when a patch is blanked

Saliency and occlusion answer different questions. Saliency is a derivative: which pixels would
change the class's score fastest if nudged, at this very input (local, one backward pass, noisy).
Occlusion is an experiment: how much the probability falls when a patch is replaced by
background (global, one forward pass per patch position, blurred by the patch size).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from .data import MNIST_MEAN, MNIST_STD
from .functional import softmax
from .model import Sequential
from .train import predict
from .train._checks import model_dtype
from .validate import Array, check_array, check_int, check_real

__all__ = ["mnist_preprocess", "normalize_image", "Saliency", "saliency", "Occlusion",
           "occlusion", "occluded_probabilities"]

MNIST_BOX = 20      # MNIST scales each digit's bounding box to fit 20 x 20 pixels ...
MNIST_SIZE = 28     # ... and centres its centre of mass in a 28 x 28 frame
PATCH, STRIDE = 6, 2  # occlusion's default square and its step
OCCLUSION_BATCH = 32  # occluded images per forward pass: passes of one size reuse the memory
#                       freed by the last one (fewer fresh pages than one pass of any size)


def mnist_preprocess(canvas: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """A drawing as MNIST's digits were made: (H, W) ink, any size and scale -> (28, 28).

    The ink (values >= 0, dark background 0) is scaled to [0, 1], cropped to its bounding box,
    resized (anti-aliased: a Gaussian blur matched to the shrink factor, then bilinear) so
    that its longer side is 20 pixels, keeping its aspect ratio, and placed in a 28 x 28 frame
    with its centre of mass at the centre, as LeCun et al. prepared MNIST. A blank canvas
    gives zeros. Returns float32 in [0, 1] (MNIST's grey levels / 255).
    """
    check_array(canvas, "canvas", 2, axis_names="(H, W)")
    if canvas.min() < 0:
        raise ValueError(f"canvas must hold ink amounts >= 0, got a minimum of {canvas.min()}")
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    if canvas.max() == 0:
        return out
    ink = canvas.astype(np.float64) / canvas.max()
    rows, cols = np.nonzero(ink > 0.05)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = MNIST_BOX / max(ink.shape)
    h, w = (max(1, round(n * scale)) for n in ink.shape)   # the longer side: exactly 20
    if scale < 1:   # blur away what the smaller grid cannot hold, or thin strokes vanish
        ink = ndimage.gaussian_filter(ink, sigma=0.5 / scale)
    box = np.clip(ndimage.zoom(ink, (h / ink.shape[0], w / ink.shape[1]), order=1,
                               grid_mode=True, mode="grid-constant"), 0, None)
    box /= max(box.max(), 1e-12)
    com_row, com_col = ndimage.center_of_mass(box)
    # MNIST's centres of mass sit at pixel (14, 14) (mean 13.99, 14.00 over the test set)
    top = int(np.clip(round(MNIST_SIZE / 2 - com_row), 0, MNIST_SIZE - h))
    left = int(np.clip(round(MNIST_SIZE / 2 - com_col), 0, MNIST_SIZE - w))
    out[top:top + h, left:left + w] = box
    return out


def normalize_image(image: npt.NDArray[np.floating], dtype: npt.DTypeLike = np.float32
                    ) -> Array:
    """A [0, 1] image (28, 28) as the shipped networks take it: (1, 28, 28), standardised
    with MNIST's mean and standard deviation, like ``data.normalize``."""
    check_array(image, "image", 2, axis_names="(H, W)")
    return ((image[None] - MNIST_MEAN) / MNIST_STD).astype(dtype)


def _model_input(model: Sequential, x: Array) -> Array:
    """x (C, H, W) in the model's dtype (checking both)."""
    dtype = model_dtype(model)
    check_array(x, "x", 3, axis_names="(C, H, W)")
    return x.astype(dtype, copy=False)


class Saliency(NamedTuple):
    gradient: Array            # (C, H, W): d logit[target] / d x
    probabilities: Array       # (K,) softmax of the logits, float64
    target: int                # the class explained


def saliency(model: Sequential, x: Array, target: int | None = None) -> Saliency:
    """The gradient of one class's logit with respect to the input: one backward pass.

    x : (C, H, W), one input as the model takes it (e.g. ``normalize_image(image)``).
    target : the class to explain; None: the predicted class.
    The model runs in eval mode (and is put back in its mode); its ``grads`` are overwritten.
    """
    x = _model_input(model, x)
    with model.evaluating():
        logits = model.forward(x[None])
        probabilities = softmax(logits[0].astype(np.float64))
        target = int(np.argmax(probabilities)) if target is None else check_int(
            target, "target", 0, len(probabilities) - 1)
        dlogits = np.zeros_like(logits)
        dlogits[0, target] = 1.0
        gradient = model.backward(dlogits)[0]
    return Saliency(gradient, probabilities, target)


class Occlusion(NamedTuple):
    drop: Array                # (OH, OW): p(target | x) - p(target | x with patch (i, j) blanked)
    pixel_drop: Array          # (H, W): mean drop over the patches covering each pixel
    probability: float         # p(target | x), the unoccluded input
    target: int


def occlusion(model: Sequential, x: Array, target: int | None = None, patch: int = PATCH,
              stride: int = STRIDE, fill: float | None = None,
              probabilities: Array | None = None) -> Occlusion:
    """Slide a ``patch`` x ``patch`` square of background over x; record the fall of p(target).

    x : (C, H, W), one model input; target : None, the predicted class.
    fill : the value pasted into the patch, in x's units; None: x's minimum (the background of
        an MNIST-style digit, so that covering blank background changes nothing).
    probabilities : ``occluded_probabilities(model, x, patch, stride, fill)`` if already
        computed (e.g. to explain another class of the same input without the forward passes).
    ``pixel_drop`` spreads each patch's drop over its pixels (mean over the patches that cover
    a pixel; 0 where none does).
    """
    x = _model_input(model, x)
    H, W = x.shape[1:]
    patch, stride, (OH, OW) = _patch_grid(x, patch, stride)
    if probabilities is None:
        probabilities = occluded_probabilities(model, x, patch, stride, fill)
    check_array(probabilities, "probabilities", 2, axis_names="(positions + 1, K)")
    if probabilities.shape[0] != OH * OW + 1:
        raise ValueError(f"probabilities must have {OH * OW + 1} rows (one per patch position "
                         f"and the unoccluded input), got shape {probabilities.shape}")
    target = int(np.argmax(probabilities[-1])) if target is None else check_int(
        target, "target", 0, probabilities.shape[1] - 1)
    drop = (probabilities[-1, target] - probabilities[:-1, target]).reshape(OH, OW)
    total, count = np.zeros((H, W)), np.zeros((H, W))
    for i in range(OH):
        for j in range(OW):
            total[i * stride:i * stride + patch, j * stride:j * stride + patch] += drop[i, j]
            count[i * stride:i * stride + patch, j * stride:j * stride + patch] += 1
    pixel_drop = np.divide(total, count, out=np.zeros((H, W)), where=count > 0)
    return Occlusion(drop, pixel_drop, float(probabilities[-1, target]), target)


def occluded_probabilities(model: Sequential, x: Array, patch: int = PATCH,
                           stride: int = STRIDE, fill: float | None = None) -> Array:
    """The model's probabilities for x with the patch at every position (row-major), then for
    x itself: (positions + 1, K). The positions where the patch changes some pixel go through
    the network, ``OCCLUSION_BATCH`` images at a time; a patch over pixels that already hold
    ``fill`` (blank background) leaves x as it is, so its row is x's own."""
    x = _model_input(model, x)
    patch, stride, (OH, OW) = _patch_grid(x, patch, stride)
    value = float(x.min()) if fill is None else check_real(fill, "fill")
    windows = np.lib.stride_tricks.sliding_window_view(x != x.dtype.type(value), (patch, patch),
                                                       axis=(1, 2))
    changed = np.flatnonzero(windows[:, ::stride, ::stride].any(axis=(0, 3, 4)))
    batch = np.repeat(x[None], len(changed) + 1, axis=0)     # the last one stays unoccluded
    for row, k in enumerate(changed):
        top, left = (k // OW) * stride, (k % OW) * stride
        batch[row, :, top:top + patch, left:left + patch] = value
    logits = predict(model, batch, OCCLUSION_BATCH, return_logits=True)[1]
    probabilities = softmax(logits.astype(np.float64))
    out = np.repeat(probabilities[-1:], OH * OW + 1, axis=0)
    out[changed] = probabilities[:-1]
    return out


def _patch_grid(x: Array, patch: int, stride: int) -> tuple[int, int, tuple[int, int]]:
    """(patch, stride, (OH, OW)): the checked patch and stride over x (C, H, W), and how many
    patch positions fit down and across."""
    H, W = x.shape[1:]
    patch = check_int(patch, "patch", 1, min(H, W))
    stride = check_int(stride, "stride", 1)
    return patch, stride, ((H - patch) // stride + 1, (W - patch) // stride + 1)
