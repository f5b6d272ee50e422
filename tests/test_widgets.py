"""course_lib.widgets: each explorer's state equals what course_lib.functional computes,
controls move it, bad inputs raise clear errors, redraws reuse one figure, and the
notebook output carries a PNG fallback with a stable text/plain."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import importlib
import inspect
import io
import itertools
import pkgutil
import re

import ipywidgets as W
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from matplotlib.image import AxesImage
from PIL import Image
from scipy import ndimage

from course_lib import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from course_lib import functional as F
from course_lib import widgets as cw
from course_lib.data import load_mnist, normalize, shift_images
from course_lib.paths import WEIGHTS_DIR
from course_lib.train import load_model, predict
from course_lib.validate import conv_output_size
from course_lib.widgets.arithmetic import LIMITS, read_counts
from course_lib.widgets.pooling import shift_image


@pytest.fixture(autouse=True)
def no_png(request, monkeypatch):
    """State tests skip the PNG rendering (tests using the ``rendering`` fixture keep it)."""
    if "rendering" not in request.fixturenames:
        monkeypatch.setattr(cw.Explorer, "auto_render", False)


@pytest.fixture
def rendering():
    """Every update renders its PNG, as in a notebook."""
    assert cw.Explorer.auto_render


@pytest.fixture(scope="module")
def digit():
    """A digit-like 28x28 image: a zero background with a bright stroke (has ties)."""
    img = np.zeros((28, 28), dtype=np.float32)
    img[6:22, 12:15] = 1.0
    img[6:9, 8:20] = 0.5
    img[10, 13] = 0.75
    return img


@pytest.fixture(scope="module")
def photo():
    return cw.sample_photo(64)


def small_model():
    """A Sequential with BatchNorm and Dropout, so eval mode matters."""
    return Sequential(Conv2d(1, 4, 3, rng=0), BatchNorm2d(4), ReLU(), Dropout(0.5, rng=1),
                      MaxPool2d(2), Conv2d(4, 3, 3, padding=1, rng=2), Flatten(),
                      Linear(3 * 5 * 5, 10, rng=3))


def tiny_digits(n: int, size: int = 12) -> np.ndarray:
    """n uint8 'digits' of size x size: a zero background and a bright bar, in different places."""
    images = np.zeros((n, size, size), dtype=np.uint8)
    for k in range(n):
        images[k, 3 + k % 4:8 + k % 4, 4 + k % 3:6 + k % 3] = 200 + k
    return images


def tiny_models(size: int = 12) -> dict:
    """Two small untrained classifiers of size x size images (an MLP and a CNN)."""
    return {"dense": Sequential(Flatten(), Linear(size * size, 10, rng=0)),
            "conv": Sequential(Conv2d(1, 2, 3, rng=1), ReLU(), MaxPool2d(2), Flatten(),
                               Linear(2 * ((size - 2) // 2) ** 2, 10, rng=2))}


def make_all() -> dict:
    """Every explorer the package defines, as its ``demo()`` builds it: {class name: explorer}."""
    return {cls.__name__: cls.demo() for cls in cw.explorer_classes()}


def wiggle(explorer, k: int) -> None:
    """Move every control of ``explorer`` (one after the other, each change an update) to
    the k-th of a cycle of settings; the n-th control changes every n-th step."""
    controls = [c for c in explorer.controls.values() if not isinstance(c, (W.Play, W.Button))]
    for n, c in enumerate(controls):
        kk = k // (n + 1)
        if hasattr(c, "options"):
            option = c.options[kk % len(c.options)]
            c.value = option[1] if isinstance(option, tuple) else option
        elif isinstance(c, W.FloatLogSlider):
            c.value = 10 ** (c.min + (kk % 7) * (c.max - c.min) / 6)
        elif isinstance(c, W.FloatText):
            c.value = float(kk % 5 - 2)
        elif isinstance(c, W.Checkbox):
            c.value = bool(kk % 2)
        elif isinstance(c, (W.IntSlider, W.FloatSlider)):
            c.value = c.min + kk % (c.max - c.min + 1)
        else:
            raise TypeError(f"wiggle() has no values for a {type(c).__name__}: teach it")


def documented_controls(cls) -> set[str]:
    """The ``names`` in the paragraph of ``cls``'s docstring that starts with 'Controls'."""
    paragraph = re.search(r"^Controls\b(.*?)(?:\n\s*\n|\Z)", inspect.getdoc(cls) or "",
                          re.MULTILINE | re.DOTALL)
    return set(re.findall(r"``(\w+)``", paragraph.group(1))) if paragraph else set()


# ---------------------------------------------------------------------- KernelEditor
def expected_filter(image, kernel, border):
    """Independent reference: scipy's correlate (mirror = numpy's 'reflect')."""
    image = image.astype(np.float64)
    if border == "reflect":
        return ndimage.correlate(image, kernel, mode="mirror")
    full = ndimage.correlate(image, kernel, mode="constant", cval=0.0)
    return full if border == "zero padding" else full[1:-1, 1:-1]


@pytest.mark.parametrize("border", cw.BORDERS)
def test_kernel_editor_output_is_conv2d_under_each_border(photo, digit, border):
    ke = cw.KernelEditor(digit, border=border)
    for name in ["identity", "box blur", "sobel x", "emboss"]:
        ke.controls["preset"].value = name
        np.testing.assert_array_equal(ke.kernel, cw.KERNELS[name])
        pad = {"valid": 0, "zero padding": 1, "reflect": 0}[border]
        x = digit[None, None]
        if border == "reflect":
            x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
        want = F.conv2d(x, ke.kernel.astype(np.float32)[None, None], padding=pad)[0, 0]
        np.testing.assert_array_equal(ke.output, want)
        np.testing.assert_allclose(ke.output, expected_filter(digit, ke.kernel, border),
                                   atol=1e-5)
    ke = cw.KernelEditor(photo, "gaussian", border=border)
    np.testing.assert_allclose(ke.output, expected_filter(photo, cw.KERNELS["gaussian"],
                                                          border), atol=1e-5)
    expected_shape = (62, 62) if border == "valid" else (64, 64)
    assert ke.output.shape == expected_shape
    assert f"output {expected_shape[0]}×{expected_shape[1]}" in ke.readout


def test_kernel_editor_cells_presets_and_normalise(digit):
    ke = cw.KernelEditor(digit)
    ke.controls["k11"].value = 2.0
    assert ke.controls["preset"].value == "custom"
    assert ke.kernel[1, 1] == 2.0
    np.testing.assert_allclose(ke.output, expected_filter(digit, ke.kernel, "zero padding"),
                               atol=1e-5)
    assert "kernel sum = 2" in ke.readout
    ke.set_kernel(np.ones((3, 3)))
    assert ke.controls["preset"].value == "custom"
    ke.controls["normalise"].click()
    np.testing.assert_allclose(ke.kernel.sum(), 1.0)
    assert ke.controls["preset"].value == "box blur"
    assert "keep their brightness" in ke.readout
    ke.set_kernel("sobel y")
    ke.normalise()
    np.testing.assert_array_equal(ke.kernel, cw.KERNELS["sobel y"])  # sum 0: unchanged
    assert "cannot normalise" in ke.readout
    ke.controls["preset"].value = "sharpen"
    assert "cannot normalise" not in ke.readout


def test_kernel_editor_switches_between_images(photo, digit):
    ke = cw.KernelEditor({"photo": photo, "digit": digit}, "sharpen", border="valid")
    assert ke.image is ke.images["photo"] and ke.output.shape == (62, 62)
    ke.controls["image"].value = "digit"
    assert ke.image is ke.images["digit"] and ke.output.shape == (26, 26)
    np.testing.assert_allclose(ke.output, expected_filter(digit, ke.kernel, "valid"), atol=1e-5)
    assert repr(ke) == "KernelEditor(image='digit' 28×28, kernel='sharpen', border='valid')"
    with pytest.raises(ValueError, match=r"image\['tiny'\] must be at least 3x3"):
        cw.KernelEditor({"photo": photo, "tiny": np.zeros((2, 2))})


def test_kernel_presets_are_read_only_3x3():
    assert set(cw.KERNELS) == {"identity", "box blur", "gaussian", "sharpen", "sobel x",
                               "sobel y", "laplacian", "emboss"}
    for k in cw.KERNELS.values():
        assert k.shape == (3, 3) and k.dtype == np.float64 and not k.flags.writeable


def test_kernel_editor_rejects_bad_input(digit):
    with pytest.raises(TypeError, match="float32 or float64"):
        cw.KernelEditor(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="at least 3x3"):
        cw.KernelEditor(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="grayscale image"):
        cw.KernelEditor(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="kernel must be one of"):
        cw.KernelEditor(digit, "blurry")
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        cw.KernelEditor(digit, np.ones((2, 2)))
    with pytest.raises(ValueError, match="border must be one of"):
        cw.KernelEditor(digit, border="wrap")
    with pytest.raises(ValueError, match="size must be >= 8"):
        cw.sample_photo(4)


def test_sample_photo():
    p = cw.sample_photo(32)
    assert p.shape == (32, 32) and p.dtype == np.float32
    assert 0 <= p.min() < p.max() <= 1
    p[0, 0] = 5  # a copy: the cache is not affected
    assert cw.sample_photo(32)[0, 0] <= 1


# ---------------------------------------------------------------------- SlidingWindowStepper
def parse_dot_product(text):
    """(pairs of factors, result) from the '... a×b + ... = r' readout."""
    expr = text.split("\n", 1)[1]
    body, result = expr.rsplit("=", 1)
    pairs = re.findall(r"\(?(-?[\d.e+-]+)\)?×\(?(-?[\d.e+-]+)\)?", body)
    return [(float(a), float(b)) for a, b in pairs], float(result)


def test_stepper_every_step_shows_the_right_dot_product():
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 6, (6, 5)).astype(np.float64)
    k = rng.integers(-2, 3, (3, 2)).astype(np.float64)
    st = cw.SlidingWindowStepper(x, k, stride=(2, 1), padding=1)
    want = F.conv2d(x[None, None], k[None, None], stride=(2, 1), padding=1)[0, 0]
    np.testing.assert_array_equal(st.output, want)
    OH, OW = want.shape
    xp = np.pad(x, 1)
    for step in range(OH * OW):
        st.controls["step"].value = step
        i, j = divmod(step, OW)
        assert st.step == step and st.position == (i, j)
        np.testing.assert_array_equal(st.patch, xp[2 * i:2 * i + 3, j:j + 2])
        pairs, result = parse_dot_product(st.readout)
        assert pairs == list(zip(st.patch.ravel(), k.ravel(), strict=True))
        assert result == pytest.approx(want[i, j])
        assert sum(a * b for a, b in pairs) == pytest.approx(want[i, j])
        assert f"output[{i}, {j}]" in st.readout


def test_stepper_rejects_bad_input():
    x = np.ones((4, 4))
    with pytest.raises(ValueError, match="larger than the padded input"):
        cw.SlidingWindowStepper(x, np.ones((5, 5)))
    with pytest.raises(ValueError, match="step must be"):
        cw.SlidingWindowStepper(x, np.ones((3, 3)), step=4)
    with pytest.raises(ValueError, match="stride"):
        cw.SlidingWindowStepper(x, np.ones((3, 3)), stride=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        cw.SlidingWindowStepper(np.ones((4, 4), dtype=int), np.ones((3, 3)))


def test_dot_product_text_format():
    text = cw.sliding_window.dot_product_text(np.array([[1.0, -2.0]]), np.array([[3.0, 0.5]]),
                                              -5.0)
    assert text == "  1×3 + (-2)×0.5\n= -5"


# ---------------------------------------------------------------------- ConvArithmeticExplorer
def test_conv_arithmetic_matches_conv_output_size_for_every_slider_setting():
    ranges = [range(lo, hi + 1) for lo, hi in LIMITS.values()]
    impossible = 0
    for i, k, p, s, d in itertools.product(*ranges):
        o, text = cw.conv_arithmetic(i, k, p, s, d)
        try:
            want = conv_output_size(i, k, s, p, d)
        except ValueError:
            assert o is None and "impossible" in text
            impossible += 1
            continue
        assert o == want, (i, k, p, s, d)
        assert text.splitlines()[2].endswith(f"= {o}")
        assert f"({i} + 2×{p} − {d}×({k}−1) − 1) / {s}" in text
    assert impossible > 0


def test_arithmetic_explorer_sliders_and_never_read_cells():
    ex = cw.ConvArithmeticExplorer(7, 3, 0, 1, 1)
    assert ex.output_size == 5
    with ex.hold():
        ex.controls["input_size"].value = 8
        ex.controls["stride"].value = 2
    # (8 - 3) / 2 = 2.5: the last row and column are never read
    assert ex.output_size == conv_output_size(8, 3, 2, 0, 1) == 3
    out = F.conv2d(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 3, 3)), stride=2)
    assert out.shape[2:] == (3, 3)
    assert ex.never_read[-1].all() and ex.never_read[:, -1].all()
    assert not ex.never_read[:-1, :-1].any()
    assert "never read" in ex.readout
    ex.controls["dilation"].value = 3  # spans 7 <= 8: fits, 1 output
    assert ex.output_size == 1
    ex.controls["kernel_size"].value = 5  # spans 13 > 8: impossible, handled
    assert ex.output_size is None and ex.never_read is None
    assert "impossible" in ex.readout and "padding >= 3" in ex.readout
    ex.controls["padding"].value = 3
    assert ex.output_size == conv_output_size(8, 5, 2, 3, 3)


def test_read_counts_match_a_loop():
    for n, k, s, d in [(7, 3, 1, 1), (8, 3, 2, 1), (9, 2, 3, 2), (5, 5, 1, 1)]:
        counts = np.zeros((n, n), dtype=int)
        o = (n - d * (k - 1) - 1) // s + 1
        for i, j in itertools.product(range(o), repeat=2):
            for u, v in itertools.product(range(k), repeat=2):
                counts[i * s + u * d, j * s + v * d] += 1
        np.testing.assert_array_equal(read_counts(n, k, s, d), counts)


def test_arithmetic_rejects_bad_input():
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        cw.ConvArithmeticExplorer(kernel_size=0)
    with pytest.raises(TypeError, match="stride must be an int"):
        cw.ConvArithmeticExplorer(stride=1.5)
    with pytest.raises(ValueError, match="at most 64"):
        cw.ConvArithmeticExplorer(input_size=100)


# ---------------------------------------------------------------------- PoolingExplorer
def test_pooling_output_and_argmax_mask(digit):
    pe = cw.PoolingExplorer(digit, 2)
    np.testing.assert_array_equal(pe.output, F.max_pool2d(digit[None, None], 2)[0, 0])
    # non-overlapping windows: exactly one True per window, at the first maximum
    for k in (2, 3, 4):
        pe.controls["kernel_size"].value = k
        OH, OW = pe.output.shape
        assert pe.argmax_mask.sum() == OH * OW
        for i, j in itertools.product(range(OH), range(OW)):
            win = pe.shifted[i * k:(i + 1) * k, j * k:(j + 1) * k]
            mask = pe.argmax_mask[i * k:(i + 1) * k, j * k:(j + 1) * k]
            assert mask.sum() == 1
            assert mask.ravel().argmax() == win.ravel().argmax()  # first maximum on ties
        assert not pe.argmax_mask[OH * k:].any() and not pe.argmax_mask[:, OW * k:].any()
    # all-equal windows (ties): the top-left pixel wins
    flat = cw.PoolingExplorer(np.ones((4, 4)), 2)
    np.testing.assert_array_equal(flat.argmax_mask, np.tile([[1, 0], [0, 0]], (2, 2)) == 1)


def test_pooling_overlapping_windows_stride_mode_and_shift(digit):
    pe = cw.PoolingExplorer(digit, 3, stride=1)
    OH, OW = pe.output.shape
    assert pe.argmax_count.sum() == OH * OW
    for i, j in itertools.product(range(OH), range(OW)):
        win = pe.shifted[i:i + 3, j:j + 3]
        r, c = divmod(int(win.ravel().argmax()), 3)
        assert pe.argmax_mask[i + r, j + c]
    pe.controls["mode"].value = "avg"
    np.testing.assert_allclose(pe.output, F.avg_pool2d(digit[None, None], 3, 1)[0, 0])
    pe.controls["stride"].value = None
    assert pe.output.shape == (9, 9)
    pe.controls["shift"].value = 2
    np.testing.assert_array_equal(pe.shifted, shift_image(digit, 2))
    np.testing.assert_allclose(pe.output, F.avg_pool2d(pe.shifted[None, None], 3)[0, 0])
    np.testing.assert_allclose(pe.reference, F.avg_pool2d(digit[None, None], 3)[0, 0])
    changed = int((pe.output != pe.reference).sum())
    assert f"{changed} of 81 pooled values change" in pe.readout


def test_shift_image_repeats_the_edge():
    img = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(shift_image(img, 1), img[:, [0, 0, 1, 2]])
    np.testing.assert_array_equal(shift_image(img, -2), img[:, [2, 3, 3, 3]])
    np.testing.assert_array_equal(shift_image(img, 0), img)


def test_pooling_rejects_bad_input(digit):
    with pytest.raises(ValueError, match="mode must be one of"):
        cw.PoolingExplorer(digit, mode="median")
    with pytest.raises(ValueError, match="larger than the padded input"):
        cw.PoolingExplorer(np.ones((3, 3)), 4)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        cw.PoolingExplorer(digit, 2.0)


# ---------------------------------------------------------------------- TemperatureExplorer
def test_temperature_probabilities_and_entropy():
    z = np.array([2.0, 1.0, 0.1, -1.0, 3.5])
    te = cw.TemperatureExplorer(z, labels=list("abcde"))
    previous = -1.0
    for t in np.logspace(-2, 2, 25):
        te.controls["temperature"].value = t
        np.testing.assert_allclose(te.probs, F.softmax(z / te.temperature), rtol=1e-12)
        assert te.probs.sum() == pytest.approx(1.0)
        assert te.entropy >= previous - 1e-12  # monotone in T
        previous = te.entropy
    assert previous == pytest.approx(np.log(5), abs=0.01)  # T = 100: nearly uniform
    te.controls["temperature"].value = 0.01
    assert te.entropy == pytest.approx(0.0, abs=1e-6) and te.probs[4] == pytest.approx(1.0)
    assert "e with p = 1.000" in te.readout and "nats" in te.readout


def test_temperature_extremes_stay_finite():
    z = np.array([1000.0, -1000.0, 0.0, 999.0])
    te = cw.TemperatureExplorer(z, temperature=0.01)
    assert np.isfinite(te.probs).all() and np.isfinite(te.entropy)
    assert te.probs.sum() == pytest.approx(1.0)
    te.controls["temperature"].value = 100.0
    assert np.isfinite(te.probs).all() and te.probs.sum() == pytest.approx(1.0)


def test_temperature_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        cw.TemperatureExplorer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        cw.TemperatureExplorer(np.zeros(1))
    with pytest.raises(ValueError, match="labels must be a sequence of 3"):
        cw.TemperatureExplorer(np.zeros(3), labels=["a", "b"])
    with pytest.raises(ValueError, match="temperature must be >= 0.01"):
        cw.TemperatureExplorer(np.zeros(3), temperature=0.0)
    with pytest.raises(ValueError, match="finite"):
        cw.TemperatureExplorer(np.array([0.0, np.inf]))


# ---------------------------------------------------------------------- BackwardStepper
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_backward_contributions_sum_to_conv2d_backward(stride, padding):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    out, cache = F.conv2d_forward(x[None], w, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape[1:])
    dx, dw, _ = F.conv2d_backward(dout[None], cache)
    bs = cw.BackwardStepper(x, w, stride=stride, padding=padding, dout=dout)
    sum_dx, sum_dw = np.zeros_like(x), np.zeros_like(w)
    Fn, OH, OW = dout.shape
    for f, i, j in itertools.product(range(Fn), range(OH), range(OW)):
        with bs.hold():
            bs.controls["f"].value, bs.controls["i"].value, bs.controls["j"].value = f, i, j
        sum_dx += bs.dx_contrib
        sum_dw += bs.dw_contrib
        assert not bs.dx_contrib[~bs.dx_mask].any() and not bs.dw_contrib[~bs.dw_mask].any()
        assert bs.dw_mask.sum() == w[0].size and bs.dw_mask[f].all()
        np.testing.assert_allclose(bs.dw_contrib[f], dout[f, i, j] * bs.patch)
        assert f"dout[{f}, {i}, {j}]" in bs.readout
    np.testing.assert_allclose(sum_dx, dx[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sum_dw, dw, rtol=1e-12, atol=1e-12)


def test_backward_mask_with_padding():
    bs = cw.BackwardStepper(np.ones((4, 4)), np.ones((3, 3)), padding=1)
    assert bs.dx_mask[0].sum() == 4  # the corner window has 5 taps on padding
    np.testing.assert_array_equal(bs.dx_contrib[0], bs.dx_mask[0].astype(float))
    assert "5 taps fall on padding" in bs.readout


def test_backward_rejects_bad_input():
    x = np.ones((2, 5, 5))
    with pytest.raises(ValueError, match="input channels"):
        cw.BackwardStepper(x, np.ones((3, 1, 3, 3)))
    with pytest.raises(ValueError, match="output's shape"):
        cw.BackwardStepper(x, np.ones((3, 2, 3, 3)), dout=np.ones((3, 2, 2)))
    with pytest.raises(TypeError, match="share one dtype"):
        cw.BackwardStepper(x, np.ones((3, 2, 3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(H, W\)"):
        cw.BackwardStepper(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)))


# ---------------------------------------------------------------------- FeatureMapExplorer
def test_feature_maps_follow_the_model_in_eval_mode():
    rng = np.random.default_rng(5)
    model = small_model()
    images = rng.random((4, 1, 12, 12)).astype(np.float32)
    fm = cw.FeatureMapExplorer(model, images)
    assert model.training  # restored after the explorer ran it in eval mode
    layers = [v for _, v in fm.controls["layer"].options]
    assert layers == [0, 1, 2, 3, 4, 5]  # Flatten and Linear have no channels
    model.eval()
    for n, k in [(0, 0), (3, 2), (1, 5)]:
        with fm.hold():
            fm.controls["image"].value, fm.controls["layer"].value = n, k
        acts = model.forward_with_activations(images[n:n + 1])
        channels = acts[k].shape[1]
        assert fm.controls["channel"].max == channels - 1
        fm.controls["channel"].value = channels - 1
        np.testing.assert_array_equal(fm.feature_map, acts[k][0, -1])
        fm.controls["scale"].value = "global"
        if acts[k].min() >= 0:
            assert fm.clim == (0.0, pytest.approx(float(acts[k][0].max())))
        else:
            assert fm.clim[1] == pytest.approx(float(np.abs(acts[k][0]).max()))
        fm.controls["scale"].value = "local"
        assert fm.clim[1] == pytest.approx(float(np.abs(acts[k][0, -1]).max()))
        assert fm.prediction == int(acts[-1].argmax())
    fm.controls["layer"].value = 5  # 3 channels: the channel slider is clamped
    assert fm.controls["channel"].value <= 2


def test_feature_maps_reject_bad_input():
    images = np.zeros((2, 1, 12, 12), dtype=np.float32)
    with pytest.raises(TypeError, match="course_lib.Sequential"):
        cw.FeatureMapExplorer(object(), images)
    with pytest.raises(ValueError, match="4-D"):
        cw.FeatureMapExplorer(small_model(), images[0])
    with pytest.raises(ValueError, match="no layer with a 4-D"):
        cw.FeatureMapExplorer(Sequential(Flatten(), Linear(144, 2, rng=0)), images)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        cw.FeatureMapExplorer(small_model(), images, labels=np.array([1, 2, 3]))


# ---------------------------------------------------------------------- ShiftExplorer
def softmax_of(model, images, dy, dx):
    """Independent reference: the model's softmax for the shifted, normalised uint8 images."""
    x = normalize(shift_images(images, dy, dx))
    model.eval()
    try:
        return F.softmax(model.forward(x).astype(np.float64))
    finally:
        model.train()


@pytest.fixture(scope="module")
def mnist_digits():
    data = load_mnist(download=False)
    return data.x_test[:4], data.y_test[:4]


def test_shift_explorer_at_shift_zero_reproduces_the_shipped_models(mnist_digits):
    images, labels = mnist_digits
    ex = cw.ShiftExplorer(images, labels)
    assert list(ex.models) == ["MLP", "LeNet"]
    mlp, net = load_model(WEIGHTS_DIR / "mlp.npz"), load_model(WEIGHTS_DIR / "lenet.npz")
    for name, model in (("MLP", mlp), ("LeNet", net)):
        want = predict(model, normalize(images))
        np.testing.assert_array_equal(ex.table[name][:, 4, 4].argmax(axis=-1), want)
        assert ex.models[name].training  # run in eval mode, mode restored
    for n in range(4):
        ex.controls["image"].value = n
        np.testing.assert_array_equal(ex.shifted, images[n])
        assert ex.predictions == {"MLP": predict(mlp, normalize(images[n:n + 1]))[0],
                                  "LeNet": predict(net, normalize(images[n:n + 1]))[0]}
        assert f"(label {labels[n]})" in ex.readout and ex.ink_lost == 0
    assert "MLP: predicts" in ex.readout and "LeNet: predicts" in ex.readout


def test_shift_explorer_state_is_the_models_on_shifted_digits(mnist_digits):
    images, labels = mnist_digits
    models = {"MLP": load_model(WEIGHTS_DIR / "mlp.npz"),
              "LeNet": load_model(WEIGHTS_DIR / "lenet.npz")}
    ex = cw.ShiftExplorer(images, labels, models, image=1, dy=-2, dx=3)
    for n, dy, dx in [(1, -2, 3), (0, 4, -4), (3, 0, 2), (2, -4, 0)]:
        with ex.hold():
            c = ex.controls
            c["image"].value, c["dy"].value, c["dx"].value = n, dy, dx
        np.testing.assert_array_equal(ex.shifted, shift_images(images[n:n + 1], dy, dx)[0])
        assert ex.ink_lost == int((images[n] > 0).sum() - (ex.shifted > 0).sum())
        for name, model in models.items():
            p = softmax_of(model, images[n:n + 1], dy, dx)[0]
            np.testing.assert_allclose(ex.probs[name], p, rtol=1e-5, atol=1e-7)
            assert ex.predictions[name] == int(p.argmax())
            row = [softmax_of(model, images[n:n + 1], dy, s)[0, labels[n]] for s in range(-4, 5)]
            np.testing.assert_allclose(ex.curves[name], row, rtol=1e-5, atol=1e-7)
        assert f"dy={dy}, dx={dx}" in repr(ex)
    right = sum(int(softmax_of(models["MLP"], images[3:4], a, b)[0].argmax() == labels[3])
                for a in range(-4, 5) for b in range(-4, 5))
    ex.controls["image"].value = 3
    assert ex.correct["MLP"] == right
    assert f"right at {right} of 81 shifts" in ex.readout


def test_shift_explorer_with_other_models_and_sizes():
    images = tiny_digits(2)
    ex = cw.ShiftExplorer(images, np.array([3, 7]), tiny_models(), dy=1, dx=-1)
    assert ex.table["dense"].shape == ex.table["conv"].shape == (2, 9, 9, 10)
    for name, model in ex.models.items():
        np.testing.assert_allclose(ex.probs[name], softmax_of(model, images[:1], 1, -1)[0],
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ex.table[name].sum(axis=-1), 1.0, rtol=1e-6)
    assert repr(ex) == "ShiftExplorer(images=2, models=['dense', 'conv'], image=0, dy=1, dx=-1)"


def test_shift_explorer_rejects_bad_input():
    images, labels, models = tiny_digits(2), np.array([1, 2]), tiny_models()
    with pytest.raises(TypeError, match="images must be raw uint8 digits.*got dtype float32"):
        cw.ShiftExplorer(images.astype(np.float32), labels, models)
    with pytest.raises(ValueError, match=r"images must be 3-D \(N, H, W\)"):
        cw.ShiftExplorer(images[:, None], labels, models)
    with pytest.raises(ValueError, match="at most 32 digits"):
        cw.ShiftExplorer(np.zeros((33, 12, 12), np.uint8), np.zeros(33, int), models)
    with pytest.raises(ValueError, match="larger than 8×8"):
        cw.ShiftExplorer(np.zeros((2, 8, 8), np.uint8), labels, models)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        cw.ShiftExplorer(images, np.array([1, 2, 3]), models)
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 10\)"):
        cw.ShiftExplorer(images, np.array([1, 12]), models)
    with pytest.raises(TypeError, match="models must be a dict of two names"):
        cw.ShiftExplorer(images, labels, {"dense": models["dense"]})
    with pytest.raises(TypeError, match="models must be a dict of two names"):
        cw.ShiftExplorer(images, labels, [models["dense"], models["conv"]])
    with pytest.raises(ValueError, match=r"image must be <= 1, got 2"):
        cw.ShiftExplorer(images, labels, models, image=2)
    with pytest.raises(ValueError, match=r"dx must be <= 4, got 5"):
        cw.ShiftExplorer(images, labels, models, dx=5)
    with pytest.raises(ValueError, match="dy must be >= -4"):
        cw.ShiftExplorer(images, labels, models, dy=-5)
    with pytest.raises(TypeError, match="dy must be an int"):
        cw.ShiftExplorer(images, labels, models, dy=1.0)


# ---------------------------------------------------------------------- figures and display
def count_artists(fig):
    """Artists a redraw could leak (ticks excluded: their number follows the axis limits)."""
    return len(fig.axes) + len(fig.texts) + len(fig.legends) + sum(
        len(ax.images) + len(ax.patches) + len(ax.lines) + len(ax.texts)
        + len(ax.collections) + len(ax.artists) for ax in fig.axes)


@pytest.fixture(scope="module")
def explorers():
    return make_all()


def test_every_explorer_is_found_exported_and_has_a_demo():
    for module in pkgutil.iter_modules(cw.__path__):  # a module __init__ forgot included
        importlib.import_module(f"{cw.__name__}.{module.name}")
    classes = cw.explorer_classes()
    exported = [getattr(cw, name) for name in cw.__all__]
    assert classes and set(classes) == {c for c in exported if isinstance(c, type)
                                        and issubclass(c, cw.Explorer) and c is not cw.Explorer}
    for cls in classes:
        assert "demo" in vars(cls), f"{cls.__name__} defines no demo() classmethod"
        first, second = cls.demo(), cls.demo()
        assert type(first) is cls and first.controls, cls.__name__
        assert (repr(first), first.readout) == (repr(second), second.readout), \
            f"{cls.__name__}.demo() is not deterministic"
        for explorer in (first, second):
            explorer.close()
    with pytest.raises(NotImplementedError, match="Explorer defines no demo"):
        cw.Explorer.demo()


def test_redraws_reuse_one_figure_without_leaks(explorers, rendering, monkeypatch):
    plt.close("all")
    for name, ex in explorers.items():
        fig = ex.static_figure()
        wiggle(ex, 1)
        before = count_artists(fig)
        # every explorer: 30 rounds of updates that move the artists (a leak of one artist a
        # round shows in the count); one also renders each
        monkeypatch.setattr(ex, "auto_render", name == "TemperatureExplorer")
        for k in range(30):
            wiggle(ex, k)
        assert ex.png[:4] == b"\x89PNG"
        assert ex.static_figure() is fig
        assert count_artists(fig) == before, name
        assert plt.get_fignums() == [], name


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_blitted_png_equals_a_full_redraw(explorers, rendering):
    for name, ex in explorers.items():
        for k in (3,):
            wiggle(ex, k)
            blit, full = png_array(ex.png), png_array(ex._render(full=True))
            differ = np.abs(blit - full).max(axis=-1) > 40
            assert differ.mean() < 0.002, (name, differ.mean())


def test_figures_are_labelled_with_colour_blind_safe_maps(explorers, rendering):
    for name, ex in explorers.items():
        fig = ex.static_figure()
        for image in fig.findobj(AxesImage):
            ax = image.axes
            assert ax.get_title() or ax.get_xlabel() or ax.get_ylabel(), name
            cmap = image.get_cmap().name
            assert cmap in {"gray", "viridis", "cividis", "RdBu_r"} or \
                cmap.startswith("okabe_ito"), (name, cmap)
            if cmap == "RdBu_r":
                lo, hi = image.get_clim()
                assert lo == -hi, (name, lo, hi)


def test_mimebundle_has_widget_png_and_stable_text(explorers, rendering):
    for name, ex in explorers.items():
        bundle = ex._repr_mimebundle_()
        assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n", name
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"], name
        text = bundle["text/plain"]
        assert text == repr(ex) and text.startswith(type(ex).__name__ + "(")
        assert not re.search(r"0x[0-9a-f]{6,}|model_id|[0-9a-f]{32}", text), text
        assert isinstance(ex.readout, str) and ex.readout
        assert ex.readout.split("\n")[0] in ex._html.value or "&" in ex._html.value
    png = explorers["TemperatureExplorer"].static_figure()._repr_png_()  # shows as an image
    assert png[:4] == b"\x89PNG"
    a, b = cw.ConvArithmeticExplorer(), cw.ConvArithmeticExplorer()
    assert repr(a) == repr(b) == ("ConvArithmeticExplorer(input_size=7, kernel_size=3, "
                                  "padding=0, stride=1, dilation=1)")


def test_nbconvert_html_shows_the_png_without_widget_state(explorers, rendering):
    from nbconvert import HTMLExporter

    ex = explorers["TemperatureExplorer"]
    bundle = ex._repr_mimebundle_()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("explorer", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb.cells = [cell]
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert 'src="data:image/png;base64,' in html
    assert bundle["image/png"][:200] in html
    model_id = bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0, "state": {model_id: {}}}}
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "application/vnd.jupyter.widget-view+json" in html  # live widget with state


def test_controls_readout_widget_contract(explorers):
    """Every explorer's controls are the ones its docstring's Controls paragraph names (the
    names lessons and students drive it with), all displayable widgets in its container."""
    for name, ex in explorers.items():
        assert documented_controls(type(ex)) == set(ex.controls), name
        assert ex.deck_control is None or ex.deck_control in ex.controls, name
        assert isinstance(ex.widget, W.Box)
        assert all(isinstance(c, W.DOMWidget) for c in ex.controls.values())


def test_hold_redraws_once_and_close_releases_the_widgets(monkeypatch):
    ex = cw.ConvArithmeticExplorer()
    calls = []
    monkeypatch.setattr(ex, "_compute", lambda f=ex._compute: calls.append(1) or f())
    with ex.hold():
        ex.controls["stride"].value = 2
        ex.controls["padding"].value = 1
        ex.controls["dilation"].value = 2
    assert len(calls) == 1 and ex.output_size == conv_output_size(7, 3, 2, 1, 2)
    ex.close()
    assert ex.widget.comm is None and all(c.comm is None for c in ex.controls.values())


def test_a_dragged_slider_draws_only_its_latest_value(rendering, monkeypatch):
    """In a kernel, each value of a dragged slider comes in its own comm message, handled by
    its own task of the event loop (ipykernel 7), as ``set_state``; the update waits a few
    turns of the loop, so the values that arrived meanwhile make one redraw. Set directly
    (a cell, a test) or under ``hold()``, a value still updates at once."""
    ex = cw.ConvArithmeticExplorer()
    slider = ex.controls["input_size"]
    renders = []
    monkeypatch.setattr(ex, "_render", lambda *a, f=ex._render: renders.append(1) or f(*a))

    async def drag():
        loop = asyncio.get_running_loop()

        def message(sizes):  # one message per turn of the loop, as the kernel reads them
            slider.set_state({"value": sizes[0]})
            if sizes[1:]:
                loop.call_soon(message, sizes[1:])

        message(list(range(6, 16)))  # ten messages
        assert slider.value == 6 and not renders  # the update is deferred
        while ex._deferred is not None:
            await asyncio.sleep(0)
        assert slider.value == 15 and len(renders) == 1 and ex.output_size == 13
        slider.value = 9  # as in a cell: at once, though the kernel's loop is running
        assert ex.output_size == 7 and len(renders) == 2

    # a loop of its own in a thread of its own: another test of this worker may have left an
    # event loop running in the main thread (asyncio.run would refuse to start there)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drag()).result()
    fresh = cw.ConvArithmeticExplorer(input_size=9)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(ex.png))),
                          np.asarray(Image.open(io.BytesIO(fresh.png))))
    ex.close()
    fresh.close()


def test_feature_maps_refresh_after_the_weights_change():
    model = small_model()
    images = np.random.default_rng(6).random((2, 1, 12, 12)).astype(np.float32)
    fm = cw.FeatureMapExplorer(model, images)
    before = fm.feature_map.copy()
    model[0].params["weight"] *= 2
    fm.controls["scale"].value = "global"  # cached activations: unchanged
    np.testing.assert_array_equal(fm.feature_map, before)
    fm.refresh()
    assert not np.array_equal(fm.feature_map, before)
