"""The drawing explorer without a browser: the canvas's value, what the network reads, the
switch between a stored digit and a drawing, and bad inputs. (Drawing with a real mouse in
JupyterLab and Voila: tests/test_browser_drawing.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import explain
from course_lib.data import normalize
from course_lib.functional import softmax
from course_lib.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from course_lib.model import Sequential
from course_lib.widgets import DigitCanvas, DrawDigitExplorer, sample_digits


@pytest.fixture(scope="module")
def explorer():
    return DrawDigitExplorer.demo()


def stroke(size: int = 280) -> np.ndarray:
    """A vertical bar as a user draws a '1': (size, size) uint8."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    canvas[size // 7:size - size // 7, size // 2 - 10:size // 2 + 10] = 255
    return canvas


def test_canvas_value_and_drawing_round_trip():
    canvas = DigitCanvas(size=56, brush=4)
    assert canvas.value == b"" and not canvas.drawing.any() and canvas.drawing.shape == (56, 56)
    picture = stroke(56)
    canvas.drawing = picture
    assert canvas.value == picture.tobytes()
    assert np.array_equal(canvas.drawing, picture)
    canvas.set_state({"value": memoryview(picture.tobytes())})   # as the browser sends it
    assert isinstance(canvas.value, bytes) and np.array_equal(canvas.drawing, picture)
    canvas.clear()
    assert canvas.value == b""


def test_canvas_rejects_bad_input():
    canvas = DigitCanvas(size=56)
    with pytest.raises(Exception, match="size \\* size = 3136"):
        canvas.value = b"\x00" * 10
    with pytest.raises(ValueError, match=r"shape \(56, 56\)"):
        canvas.drawing = np.zeros((28, 28), dtype=np.uint8)
    with pytest.raises(TypeError, match="uint8"):
        canvas.drawing = np.zeros((56, 56), dtype=np.float32)
    with pytest.raises(ValueError, match="size must be >= 28"):
        DigitCanvas(size=10)
    with pytest.raises(ValueError, match="brush"):
        DigitCanvas(size=56, brush=100)


def test_a_stored_digit_is_read_as_stored_and_painted_on_the_canvas(explorer):
    images, labels = sample_digits(8)
    model = explorer.models["LeNet"]
    with explorer.hold():
        explorer.controls["model"].value = "LeNet"
        explorer.controls["digit"].value = 3
        explorer.controls["target"].value = None
    assert np.array_equal(explorer.image, images[3] / np.float32(255))
    expected = model.forward_with_activations(normalize(images[3:4]))
    assert np.allclose(explorer.probabilities,
                       softmax(expected[-1][0].astype(np.float64)))
    assert explorer.prediction == labels[3]
    assert sorted(explorer.activations) == [0, 2, 3, 5]   # conv, pool, conv, pool
    for k, maps in explorer.activations.items():
        assert np.allclose(maps, expected[k][0], rtol=1e-4, atol=1e-5)
    # the canvas shows the digit enlarged: shrunk back, it is the stored digit
    painted = explorer.canvas.drawing.astype(np.float32)
    assert painted.shape == (280, 280)
    small = painted.reshape(28, 10, 28, 10).mean(axis=(1, 3)) / 255
    assert np.corrcoef(small.ravel(), explorer.image.ravel())[0, 1] > 0.95
    assert f"LeNet reads a {labels[3]}" in explorer.readout and "stored image 3" in explorer.readout


def test_a_stroke_switches_to_the_drawing_and_lenet_reads_a_one(explorer):
    explorer.controls["digit"].value = 2
    explorer.canvas.drawing = stroke()          # as if the browser sent a finished stroke
    assert explorer.controls["digit"].value is None
    assert np.array_equal(explorer.image, explain.mnist_preprocess(stroke().astype(np.float32)))
    assert explorer.prediction == 1 and "your drawing" in explorer.readout
    assert explorer.saliency.target == 1 == explorer.occlusion.target
    explorer.controls["target"].value = 7       # explain another class
    assert explorer.saliency.target == 7 and explorer.occlusion.target == 7
    assert explorer.prediction == 1 and "explaining class 7" in explorer.readout
    explorer.canvas.clear()
    assert not explorer.image.any() and "the canvas is blank" in explorer.readout
    explorer.controls["target"].value = None


def test_the_seed_net_shows_its_two_layers(explorer):
    explorer.controls["digit"].value = 0
    explorer.controls["model"].value = "seed net"
    assert sorted(explorer.activations) == [0, 1]
    visible = [ax.get_visible() for ax in explorer._ax_layers]
    assert visible == [True, True, False, False]
    assert explorer.png.startswith(b"\x89PNG")
    explorer.controls["model"].value = "LeNet"
    assert all(ax.get_visible() for ax in explorer._ax_layers)


def test_drawing_over_a_stored_digit_reads_the_drawing(explorer):
    explorer.controls["digit"].value = 1        # a '2'
    picture = explorer.canvas.drawing
    picture[:, :40] = 255                        # a thick bar down the left edge
    explorer.canvas.drawing = picture
    assert explorer.controls["digit"].value is None
    assert np.array_equal(explorer.image, explain.mnist_preprocess(picture.astype(np.float32)))


def test_explorer_rejects_bad_input():
    net = Sequential(Conv2d(1, 2, 3, rng=0), ReLU(), MaxPool2d(2), Flatten(),
                     Linear(2 * 13 * 13, 10, rng=1))
    with pytest.raises(TypeError, match="Sequential"):
        DrawDigitExplorer({"a": object()})
    with pytest.raises(TypeError, match="models must be"):
        DrawDigitExplorer({})
    with pytest.raises(ValueError, match="28 x 28"):
        DrawDigitExplorer(net, np.zeros((2, 14, 14), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DrawDigitExplorer(net, np.full((2, 28, 28), 255.0, dtype=np.float32))
    with pytest.raises(ValueError, match="labels were given without images"):
        DrawDigitExplorer(net, labels=np.array([1, 2]))
    with pytest.raises(ValueError, match="labels"):
        DrawDigitExplorer(net, np.zeros((2, 28, 28), dtype=np.uint8), np.array([1, 12]))
    blank = DrawDigitExplorer(net)                # no stored digits: a blank canvas
    assert blank.controls["digit"].value is None and "blank" in blank.readout
    blank.canvas.drawing = stroke()
    assert "your drawing" in blank.readout
    blank.canvas.clear()                          # back to blank: read again
    assert "blank" in blank.readout
    blank.close()
