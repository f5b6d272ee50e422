"""Explorer figures are readable from the back row and keep a clean layout while they move.

Every explorer is built, then every control is moved through its values (extremes
included) and a few random combinations are set; after each change the figure is drawn
and every text drawn (titles, axis and colour-bar labels, tick labels, numbers written in
cells, legends) is measured with the renderer:

* size: fontsize * dpi / 72 >= 14.6 px, i.e. at least 11 pt on a 96-dpi screen when the
  PNG is shown at its natural width, which must fit a notebook column (<= 1100 px);
* no two texts overlap (tick labels of one axis included, numbers of neighbouring cells
  included);
* every text lies inside the figure (nothing clipped).
"""

from __future__ import annotations

import contextlib
import functools
import io

import ipywidgets as W
import matplotlib.figure as mfigure
import matplotlib.text as mtext
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from course_lib import viz
from course_lib import widgets as cw
from course_lib.data import load_mnist
from course_lib.train import confusion_matrix
from course_lib.widgets import rendering

MIN_TEXT_PX = 14.6      # 11 pt on a 96-dpi screen is 11 * 96 / 72 = 14.67 px
MAX_WIDTH_PX = 1100     # JupyterLab's output column on a 1280-wide screen
TOLERANCE_PX = 0.5      # boxes that share an edge do not overlap
MIN_STATES = 8
RANDOM_COMBINATIONS = 2  # at least; more if the controls' own values make fewer than MIN_STATES


# ---------------------------------------------------------------------- measuring
@contextlib.contextmanager
def recording_texts():
    """Every Text drawn in the block (visible, non-empty), with the renderer it was drawn by."""
    drawn = []
    draw = mtext.Text.draw

    @functools.wraps(draw)
    def recording(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append((self, renderer))
        return draw(self, renderer)

    mtext.Text.draw = recording
    try:
        yield drawn
    finally:
        mtext.Text.draw = draw


def describe(text) -> str:
    where = "figure"
    if text.axes is not None:
        where = text.axes.get_title() or text.axes.get_label() or "axes"
    return f"{text.get_text()!r} (in {where!r})"


def layout_problems(fig) -> list[str]:
    """Draw ``fig`` completely and list its unreadable, clipped or overlapping texts."""
    with recording_texts() as drawn:
        fig.canvas.draw()
    problems = []
    boxes = []
    for text, renderer in drawn:
        px = text.get_fontsize() * fig.dpi / 72
        if px < MIN_TEXT_PX:
            problems.append(f"{describe(text)} is {px:.1f} px tall (< {MIN_TEXT_PX})")
        boxes.append(text.get_window_extent(renderer).extents)
    if not boxes:
        return ["no text drawn"]
    boxes = np.array(boxes)
    x0, y0, x1, y1 = fig.bbox.extents
    t = TOLERANCE_PX
    for (text, _), (a, b, c, d) in zip(drawn, boxes, strict=True):
        if a < x0 - t or b < y0 - t or c > x1 + t or d > y1 + t:
            problems.append(f"{describe(text)} is clipped: {a:.0f}, {b:.0f}, {c:.0f}, {d:.0f} "
                            f"outside {x1:.0f}×{y1:.0f}")
    ix = (np.minimum(boxes[:, None, 2], boxes[None, :, 2])
          - np.maximum(boxes[:, None, 0], boxes[None, :, 0]))
    iy = (np.minimum(boxes[:, None, 3], boxes[None, :, 3])
          - np.maximum(boxes[:, None, 1], boxes[None, :, 1]))
    for i, j in zip(*np.nonzero(np.triu((ix > t) & (iy > t), 1)), strict=True):
        problems.append(f"{describe(drawn[i][0])} overlaps {describe(drawn[j][0])}")
    return problems


def check(explorer, where: str) -> None:
    """The explorer's PNG is its figure; the figure's texts are all readable and clear."""
    png = Image.open(io.BytesIO(explorer.png))
    fig = explorer.static_figure()
    assert png.size == (round(fig.get_figwidth() * fig.dpi), round(fig.get_figheight() * fig.dpi))
    problems = layout_problems(fig)
    assert not problems, f"{where}:\n  " + "\n  ".join(problems[:12])


# ---------------------------------------------------------------------- explorers
def digit_image() -> np.ndarray:
    """A digit-like 28x28 image, as in test_widgets."""
    img = np.zeros((28, 28), dtype=np.float32)
    img[6:22, 12:15] = 1.0
    img[6:9, 8:20] = 0.5
    img[10, 13] = 0.75
    return img


@functools.cache
def mnist():
    return load_mnist(download=False)


def make_explorers():
    """name -> constructor: every explorer as its ``demo()`` builds it (the lesson's size,
    MNIST digits and the shipped networks), and the other sizes lessons show."""
    x5 = np.array([[3, 1, 0, 2, 4], [1, 0, 3, 1, 2], [2, 4, 1, 0, 1], [0, 1, 2, 3, 1],
                   [4, 2, 0, 1, 3]], dtype=np.float32)
    makers = {cls.__name__: cls.demo for cls in cw.explorer_classes()}
    makers.update({
        "SlidingWindowStepper 5x5": lambda: cw.SlidingWindowStepper(x5, cw.KERNELS["sobel x"]),
        "PoolingExplorer 4x4": lambda: cw.PoolingExplorer(x5[:4, :4], 2),
        "PoolingExplorer 256x256": lambda: cw.PoolingExplorer(cw.sample_photo(256), 2),
    })
    return makers


MAKERS = make_explorers()


def control_values(control) -> list:
    """The values to move one control through: every option (at most 5, evenly spaced), the
    ends of a slider (middles come in the random combinations), a long number for a cell."""
    if isinstance(control, (W.Play, W.Button)):  # Play drives `step`; Button: see below
        return []
    if hasattr(control, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        if len(values) > 5:
            values = [values[k] for k in np.linspace(0, len(values) - 1, 5).round().astype(int)]
        return values
    if isinstance(control, W.FloatLogSlider):
        return [control.base ** e for e in (control.min, control.max,
                                            (control.min + control.max) / 2)]
    if isinstance(control, W.FloatText):  # the kernel's cells: long numbers
        return [-123.456]
    if isinstance(control, (W.IntSlider, W.FloatSlider)):  # the middle: random combinations
        return [control.min, control.max]
    raise TypeError(f"no values for {type(control).__name__}")


def states(explorer, rng):
    """Move the explorer through its states; yields a description of each."""
    yield "as built"
    count = 1
    for name, control in explorer.controls.items():
        for value in control_values(control):
            if isinstance(control, W.IntSlider):
                value = min(max(value, control.min), control.max)  # ranges may have moved
            control.value = value
            count += 1
            yield f"{name} = {value!r}"
        if isinstance(control, W.Button):
            control.click()
            count += 1
            yield f"{name} clicked"
    for k in range(max(RANDOM_COMBINATIONS, MIN_STATES - count)):
        settings = {}
        with explorer.hold():
            for name, control in explorer.controls.items():
                values = control_values(control)
                if values:
                    if isinstance(control, W.IntSlider):  # any value of the current range
                        values = list(range(control.min, control.max + 1))
                    elif isinstance(control, W.FloatText):
                        values = [-123.456, 0.0125, -0.5, 2.0, 1000.0]
                    settings[name] = control.value = values[rng.integers(len(values))]
        yield f"random combination {k}: {settings}"


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", list(MAKERS))
def test_every_state_is_readable_and_uncluttered(name):
    explorer = MAKERS[name]()
    fig = explorer.static_figure()
    width = fig.get_figwidth() * fig.dpi
    assert width <= MAX_WIDTH_PX, f"{name}: {width:.0f} px wide, shrunk in a notebook column"
    assert explorer._image.width == str(round(width))
    rng = np.random.default_rng(0)
    count = 0
    for where in states(explorer, rng):
        check(explorer, f"{name}, {where}")
        count += 1
    assert count >= MIN_STATES
    explorer.close()


def test_reused_pixels_equal_a_fresh_draw(monkeypatch):
    """Unchanged colour bars and titles are pasted back from their last draw: through every
    state, the pictures equal those drawn without that reuse (the BackwardStepper has three
    colour bars, two of which change with the cell, and titles that change or not)."""
    name = "BackwardStepper"
    def pictures():
        explorer = MAKERS[name]()
        rng = np.random.default_rng(1)
        return [(where, np.asarray(Image.open(io.BytesIO(explorer.png))))
                for where in states(explorer, rng)]

    reused = pictures()
    monkeypatch.setattr(rendering, "pixel_region", lambda *args: None)
    for (where, a), (_, b) in zip(reused, pictures(), strict=True):
        assert np.array_equal(a, b), f"{name}, {where}: {(a != b).any(axis=-1).mean():.2%} differ"


@pytest.mark.parametrize("name, control, away", [
    ("PoolingExplorer", "kernel_size", 3), ("ConvArithmeticExplorer", "stride", 1),
    ("KernelEditor", "image", "digit"), ("FeatureMapExplorer", "layer", 2)])
def test_a_state_seen_before_gets_its_static_pixels_back(name, control, away, monkeypatch):
    """Moving a control away (new ticks: the static part is drawn again) and back pastes
    back the static pixels of the first state: the picture equals the first one."""
    explorer = MAKERS[name]()
    first = np.asarray(Image.open(io.BytesIO(explorer.png)))
    static_draws = []
    for method in ("_draw_static", "_redraw_panels"):  # all panels or the changed ones
        draw = getattr(explorer._blit, method)
        monkeypatch.setattr(explorer._blit, method,
                            lambda *a, draw=draw, **kw: static_draws.append(1) or draw(*a, **kw))
    start = explorer.controls[control].value
    explorer.controls[control].value = away
    assert static_draws, f"{name}: {control} = {away!r} keeps the static part"
    static_draws.clear()
    explorer.controls[control].value = start
    again = np.asarray(Image.open(io.BytesIO(explorer.png)))
    assert not static_draws and np.array_equal(first, again), \
        f"{name}: {(first != again).any(axis=-1).mean():.2%} differ"
    explorer.close()


@pytest.mark.parametrize("name, moves", [
    ("PoolingExplorer", [("kernel_size", 3), ("kernel_size", 1), ("mode", "avg"),
                         ("kernel_size", 4), ("stride", 1), ("mode", "max"), ("shift", -3),
                         ("kernel_size", 2), ("stride", 3)]),
    ("KernelEditor", [("image", "digit"), ("preset", "box blur"), ("image", "photo"),
                      ("border", "valid"), ("image", "digit"), ("preset", "laplacian"),
                      ("image", "photo")]),
    ("ConvArithmeticExplorer", [("stride", 1), ("kernel_size", 5), ("dilation", 2),
                                ("input_size", 11), ("stride", 3), ("padding", 2),
                                ("kernel_size", 2)]),
    ("FeatureMapExplorer", [("layer", 2), ("layer", 3), ("channel", 5), ("layer", 5),
                            ("layer", 0), ("scale", "global"), ("layer", 4)])])
def test_panels_drawn_alone_draw_the_pixels_of_a_full_draw(name, moves, monkeypatch):
    """When only some panels' static state changes (``set_static_state(panels=...)``),
    only those panels are drawn again over the others' pixels: through a chain of such
    changes (each drawn over the pixels of the last; no state's pixels kept, so a state
    seen before is drawn again too), the pictures equal full draws."""
    monkeypatch.setattr(rendering, "MAX_BACKGROUNDS", 1)
    explorer = MAKERS[name]()
    partial = []
    redraw_panels = explorer._blit._redraw_panels
    monkeypatch.setattr(explorer._blit, "_redraw_panels",
                        lambda: partial.append(redraw_panels()) or partial[-1])
    shots = []
    for control, value in moves:
        explorer.controls[control].value = value
        shots.append(np.asarray(Image.open(io.BytesIO(explorer.png))))
    assert sum(partial) >= 4, f"{name}: panels drawn alone only {sum(partial)} times"
    explorer.close()
    fresh = MAKERS[name]()
    for (control, value), shot in zip(moves, shots, strict=True):
        fresh.controls[control].value = value
        full = np.asarray(Image.open(io.BytesIO(fresh._render(full=True))))
        assert np.array_equal(shot, full), \
            f"{name}, {control} = {value!r}: {(shot != full).any(axis=-1).mean():.2%} differ"
    fresh.close()


def test_kept_glyphs_draw_the_pixels_of_matplotlibs_own_text_drawing(monkeypatch):
    """Texts drawn from kept glyph bitmaps (titles, rotated colour-bar labels, tick labels,
    numbers in cells) equal matplotlib's own drawing, from a cold and from a warm cache."""
    def picture():
        explorer = MAKERS["BackwardStepper"]()
        png = np.asarray(Image.open(io.BytesIO(explorer._render(full=True))))
        explorer.close()
        return png

    monkeypatch.setattr(rendering, "_GLYPHS", {})
    cold, warm = picture(), picture()
    monkeypatch.setattr(rendering, "draw_cached_text", lambda *args: False)
    own = picture()
    for kept in (cold, warm):
        assert np.array_equal(kept, own), f"{(kept != own).any(axis=-1).mean():.2%} differ"


def test_ticks_updated_once_draw_the_pixels_of_matplotlibs_own_axis_drawing(monkeypatch):
    """Axes drawn with their ticks updated once per draw (``rendering.ticks_updated_once``)
    equal matplotlib's own drawing, which updates them three times, through new limits
    (the pooled panels' ticks) and new colour-bar ticks."""
    def pictures():
        explorer = MAKERS["PoolingExplorer"]()
        shots = []
        for k in (3, 1, 4):
            explorer.controls["kernel_size"].value = k
            shots.append(np.asarray(Image.open(io.BytesIO(explorer.png))))
        explorer.close()
        return shots

    once = pictures()
    monkeypatch.setattr(rendering, "ticks_updated_once", contextlib.nullcontext)
    for k, (a, b) in enumerate(zip(once, pictures(), strict=True)):
        assert np.array_equal(a, b), f"state {k}: {(a != b).any(axis=-1).mean():.2%} differ"


def test_pooling_stride_has_a_real_default(monkeypatch):
    monkeypatch.setattr(cw.Explorer, "auto_render", False)  # the state is enough here
    pooling = cw.PoolingExplorer(digit_image(), 3)
    stride = pooling.controls["stride"]
    values = [o[1] if isinstance(o, tuple) else o for o in stride.options]
    assert stride.value is not None and stride.value in values
    assert stride.label is not None and "3" in stride.label and "kernel_size" in stride.label
    assert pooling.output.shape == (9, 9)  # stride = kernel_size
    pooling.controls["kernel_size"].value = 2
    assert stride.value is not None and "2" in stride.label and pooling.output.shape == (14, 14)
    stride.value = 1
    assert pooling.output.shape == (27, 27)
    assert cw.PoolingExplorer(digit_image(), 2, stride=1).controls["stride"].value == 1


def test_confusion_matrix_is_readable():
    data = mnist()
    labels = data.y_test[:2000]
    noise = np.random.default_rng(0).integers(0, 10, labels.size)
    predictions = np.where(np.arange(labels.size) % 9 == 0, noise, labels)
    fig = viz.plot_confusion_matrix(confusion_matrix(labels, predictions),
                                    title="LeNet on the 5,000 validation images")
    FigureCanvasAgg(fig)
    assert fig.get_figwidth() * fig.dpi <= MAX_WIDTH_PX
    assert not layout_problems(fig)
    ax = fig.axes[0]
    counts = [t for t in ax.texts]
    assert min(t.get_fontsize() for t in counts) >= 12  # the counts are the point


@pytest.mark.parametrize("origin", ["upper", "lower"])
def test_nearest_images_draw_the_pixels_of_matplotlibs_own_resampling(origin):
    """``rendering.NearestImage`` (every explorer image) draws exactly what matplotlib's
    AxesImage draws: up- and downsampled, NaN cells, RGBA with alpha, integer data, limits
    wider or narrower than the image."""
    rng = np.random.default_rng(0)
    for trial in range(16):
        h, w = rng.integers(1, 300 if trial % 2 else 30, 2)
        data = rng.standard_normal((h, w))
        if trial % 4 == 0:
            data[rng.random((h, w)) < 0.2] = np.nan
        elif trial % 4 == 1:
            data = rng.random((h, w, 4))
        elif trial % 8 == 2:
            data = rng.integers(0, 255, (h, w)).astype(np.uint8)
        size = (rng.uniform(2, 6), rng.uniform(2, 5))
        pictures = []
        for fast in (False, True):
            fig = mfigure.Figure(figsize=size, dpi=100)
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            im = ax.imshow(data, interpolation="nearest", origin=origin)
            if trial % 3 == 0:
                ax.set_xlim(-3, w + 2)
            elif trial % 3 == 1:
                ax.set_xlim(w / 3, w / 2)
            if fast:
                im.__class__ = rendering.NearestImage
            canvas.draw()
            pictures.append(np.asarray(canvas.buffer_rgba()).copy())
        assert np.array_equal(*pictures), f"{trial}: {(pictures[0] != pictures[1]).mean():.2%}"
