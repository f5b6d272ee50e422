"""Explorers in decks: pre-rendered frames instead of live widgets that a deck cannot run.

``Explorer.frames`` renders one picture and readout per value of the explorer's
``deck_control``; ``course_lib.slides.deck_outputs`` turns them into an HTML frame switcher
and strips every live widget view from a deck. The browser side (the range input switches
pictures, keys never change the slide) is tested in test_slides.py.
"""

from __future__ import annotations

import base64

import ipywidgets as W
import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from test_widgets import make_all

from course_lib import widgets as cw
from course_lib.slides import FRAMES_MIME, WIDGET_VIEW, deck_outputs
from course_lib.widgets._base import DECK_FRAMES_ENV, MAX_DECK_FRAMES


@pytest.fixture(scope="module")
def explorers():
    return make_all()


def test_every_explorer_prerenders_its_deck_control(explorers):
    for name, explorer in explorers.items():
        assert explorer.deck_control in explorer.controls, name
        before_png, before_text = explorer.png, explorer.readout
        value = explorer.controls[explorer.deck_control].value
        frames = explorer.frames()
        n = len(frames["frames"])
        assert 2 <= n <= MAX_DECK_FRAMES + 1 and len(frames["labels"]) == n, name
        assert frames["frames"][frames["index"]]["readout"] == before_text, name
        assert len({f["png"] for f in frames["frames"]}) > 1, f"{name}: all frames alike"
        for frame in frames["frames"]:
            assert base64.b64decode(frame["png"]).startswith(b"\x89PNG"), name
        # the explorer is back where it was
        assert explorer.controls[explorer.deck_control].value == value, name
        assert explorer.readout == before_text and explorer.png == before_png, name


def test_long_sliders_are_subsampled_keeping_the_current_value():
    stepper = cw.SlidingWindowStepper(np.arange(144.0).reshape(12, 12), np.ones((3, 3)),
                                      step=57)  # 100 positions
    frames = stepper.frames(max_frames=10)
    labels = frames["labels"]
    assert labels[0] == "0" and labels[-1] == "99" and "57" in labels
    assert len(labels) <= 11 and labels[frames["index"]] == "57"
    assert frames["control"] == "step"


def test_frames_only_when_a_deck_asks(explorers, monkeypatch):
    pooling = explorers["PoolingExplorer"]
    monkeypatch.delenv(DECK_FRAMES_ENV, raising=False)
    assert FRAMES_MIME not in pooling._repr_mimebundle_()
    monkeypatch.setenv(DECK_FRAMES_ENV, "1")
    bundle = pooling._repr_mimebundle_()
    assert bundle[FRAMES_MIME]["labels"] == [str(v) for v in range(-4, 5)]
    assert "image/png" in bundle and "text/plain" in bundle


def test_an_explorer_without_deck_control_says_so(explorers):
    explorer = explorers["PoolingExplorer"]
    explorer.deck_control = None
    try:
        with pytest.raises(ValueError, match="PoolingExplorer has no deck_control"):
            explorer.frames()
    finally:
        del explorer.deck_control
    saved = explorer.controls["extra"] = W.Text("x")
    try:
        explorer.deck_control = "extra"
        with pytest.raises(TypeError, match="deck_control 'extra' is a Text"):
            explorer.frames()
    finally:
        del explorer.controls["extra"], explorer.deck_control
        saved.close()


def test_deck_outputs_leave_no_live_widget():
    png = base64.b64encode(b"\x89PNG fake").decode()
    frames = {"control": "step", "labels": ["0", "1"], "index": 0,
              "frames": [{"png": png, "readout": "a </script> b"}, {"png": png, "readout": "c"}]}
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    outputs = [
        new_output("display_data", {WIDGET_VIEW: view, "image/png": png, FRAMES_MIME: frames,
                                     "text/plain": "Stepper()"}),
        new_output("display_data", {WIDGET_VIEW: view, "image/png": png, "text/plain": "X()"}),
        new_output("display_data", {WIDGET_VIEW: view, "text/plain": "VBox(...)"}),
        new_output("stream", name="stdout", text="plain text stays"),
    ]
    nb = new_notebook(cells=[new_code_cell("x", outputs=outputs)],
                      metadata={"widgets": {"state": {}}})
    out = deck_outputs(nb, "02_convolution")
    assert "widgets" not in out.metadata
    first, second, third, fourth = out.cells[0].outputs
    assert set(first.data) == {"text/html"} and 'type="range"' in first.data["text/html"]
    assert 'max="1"' in first.data["text/html"] and "<\\/script>" in first.data["text/html"]
    assert "make app LESSON=02_convolution" in first.data["text/html"]
    assert WIDGET_VIEW not in second.data and "<img" in second.data["text/html"]
    assert "make app LESSON=02_convolution" in second.data["text/html"]
    assert "<pre>VBox(...)</pre>" in third.data["text/html"]
    assert fourth.text == "plain text stays"
    assert nbformat.validate(out) is None
