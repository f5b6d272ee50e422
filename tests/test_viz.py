"""Figures: each returns a Figure with labelled axes, the right colour map and limits."""

import io
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib import viz  # noqa: E402
from course_lib.lessons import LESSONS  # noqa: E402
from course_lib.paths import NOTEBOOKS_DIR  # noqa: E402
from course_lib.train import History, confusion_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def no_figure_leak():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "a viz function left a pyplot figure open"
    plt.close("all")


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def _colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _history():
    rng = np.random.default_rng(0)
    h = History(steps_per_epoch=10)
    h.step_loss = list(np.exp(-np.linspace(0, 2, 30)) + 0.05 * rng.random(30))
    h.step_acc = list(np.linspace(0.5, 0.95, 30))
    h.lr = [1e-3] * 30
    h.epoch_loss = [float(np.mean(h.step_loss[i:i + 10])) for i in (0, 10, 20)]
    h.epoch_acc = [0.7, 0.85, 0.93]
    h.epoch_time = [1.0, 1.0, 1.0]
    h.val_loss, h.val_acc = [0.5, 0.3, 0.25], [0.8, 0.9, 0.95]
    return h


def test_plot_history_labels_both_panels_and_draws_every_series():
    fig = viz.plot_history(_history(), title="run")
    assert isinstance(fig, Figure)
    ax_loss, ax_acc = fig.axes
    for ax in (ax_loss, ax_acc):
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(ax_loss.lines) == 3 and len(ax_acc.lines) == 2
    steps, losses = ax_loss.lines[0].get_data()
    assert len(steps) == 30 and steps[0] == 1
    np.testing.assert_array_equal(ax_loss.lines[1].get_xdata(), [10, 20, 30])  # epoch ends
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [80, 90, 95])


def test_plot_history_accepts_dict_and_given_axes():
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert viz.plot_history(_history().to_dict(), axes=axes) is fig
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history(History())
    with pytest.raises(TypeError, match="history"):
        viz.plot_history([1, 2, 3])


def test_show_filters_diverging_symmetric_with_colorbar():
    w = np.random.default_rng(1).standard_normal((8, 1, 3, 3)).astype(np.float32)
    w[3, 0, 1, 1] = 5.0  # the largest magnitude sets the limits
    fig = viz.show_filters(w)
    images = _images(fig)
    assert len(images) == 8
    for im in images:
        assert im.get_cmap().name == "RdBu_r"
        assert im.get_clim() == (-5.0, 5.0)
    assert len(_colorbars(fig)) == 1
    assert fig.get_suptitle()
    assert all(ax.get_title() for ax in fig.axes if ax.get_images())


def test_show_filters_multi_channel_grid_and_channel_choice():
    w = np.random.default_rng(2).standard_normal((4, 3, 5, 5))
    assert len(_images(viz.show_filters(w))) == 12
    fig = viz.show_filters(w, channel=2)
    assert len(_images(fig)) == 4 and "input channel 2" in fig.get_suptitle()
    with pytest.raises(ValueError, match="channel"):
        viz.show_filters(w, channel=3)
    with pytest.raises(ValueError, match="4-D"):
        viz.show_filters(w[0])


def test_show_feature_maps_global_and_per_map_scales():
    rng = np.random.default_rng(3)
    signed = rng.standard_normal((1, 6, 10, 10))
    signed[0, 2] *= 10
    fig = viz.show_feature_maps(signed)
    m = np.abs(signed).max()
    assert all(im.get_clim() == (-m, m) and im.get_cmap().name == "RdBu_r"
               for im in _images(fig))
    assert len(_colorbars(fig)) == 1

    fig = viz.show_feature_maps(signed[0], scale="per_map")
    clims = [im.get_clim() for im in _images(fig)]
    assert len(set(clims)) == 6 and all(lo == -hi for lo, hi in clims)
    assert len(_colorbars(fig)) == 6

    relu_maps = np.maximum(signed[0], 0)
    fig = viz.show_feature_maps(relu_maps)
    assert all(im.get_cmap().name == "viridis" for im in _images(fig))
    assert _images(fig)[0].get_clim() == (0.0, relu_maps.max())
    with pytest.raises(ValueError, match="scale"):
        viz.show_feature_maps(signed, scale="local")
    with pytest.raises(ValueError, match="one image"):
        viz.show_feature_maps(np.zeros((2, 3, 4, 4)))


def test_show_images_titles_mark_mistakes():
    images = np.random.default_rng(4).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4])
    preds = np.array([0, 1, 7, 3, 4])
    fig = viz.show_images(images[:, None], labels, preds, ncols=3)
    axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(axes) == 5
    assert all(ax.get_images()[0].get_cmap().name == "gray" for ax in axes)
    titles = [ax.get_title() for ax in axes]
    assert titles[2] == "true 2\npred 7" and titles[0] == "0"
    assert axes[2].title.get_color() != axes[0].title.get_color()
    assert fig.get_suptitle()
    fig = viz.show_images(images, labels, class_names=list("abcde"))
    assert [ax.get_title() for ax in fig.axes if ax.get_images()][1] == "label b"
    with pytest.raises(ValueError, match="labels"):
        viz.show_images(images, labels[:3])


def test_plot_confusion_matrix_annotated_labelled_viridis():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0, 2])
    cm = confusion_matrix(y, p, 3)
    fig = viz.plot_confusion_matrix(cm, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert ax.get_images()[0].get_cmap().name == "viridis"
    assert [t.get_text() for t in ax.texts] == [str(v) for v in cm.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert len(_colorbars(fig)) == 1
    fig = viz.plot_confusion_matrix(cm, normalize=True, cmap="cividis")
    assert fig.axes[0].get_images()[0].get_clim()[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cmap"):
        viz.plot_confusion_matrix(cm, cmap="jet")
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(cm[:2])


def test_show_matrix_values_written_and_signed_scale():
    a = np.array([[1, -2], [3, 0]])
    fig, ax = plt.subplots()
    try:
        assert viz.show_matrix(a, ax=ax, title="kernel", highlight=(0, 0, 1, 2)) is fig
        assert [t.get_text() for t in ax.texts] == ["1", "-2", "3", "0"]
        im = ax.get_images()[0]
        assert im.get_cmap().name == "RdBu_r" and im.get_clim() == (-3.0, 3.0)
        assert ax.get_title() == "kernel" and ax.get_xlabel() and ax.get_ylabel()
        assert len(ax.patches) == 1
    finally:
        plt.close(fig)
    fig = viz.show_matrix(np.arange(4.0).reshape(2, 2), fmt="{:.1f}")
    assert fig.axes[0].get_images()[0].get_cmap().name == "viridis"
    assert fig.axes[0].texts[3].get_text() == "3.0"
    with pytest.raises(TypeError, match="ax"):
        viz.show_matrix(a, ax="left")


def test_figures_render_with_agg():
    w = np.random.default_rng(5).standard_normal((4, 1, 3, 3))
    for fig in (viz.show_filters(w), viz.plot_history(_history())):
        fig.canvas.draw()  # layout and colorbars resolve without error


# ----------------------------------------------------------------------------- readability
def test_audit_reports_tiny_text_and_passes_readable_figures():
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("tiny", fontsize=7)
    ax.tick_params(labelsize=12)
    ax.set_xlabel("x", fontsize=12)
    problems = viz.audit_figure_text(fig)
    assert len(problems) == 1 and "'tiny'" in problems[0] and "7 pt" in problems[0]
    ax.set_title("tiny", fontsize=13)
    assert viz.audit_figure_text(fig) == []
    assert not isinstance(fig.canvas, type(None)) and type(fig.canvas).__name__ == \
        "FigureCanvasBase", "the audit must not leave its Agg canvas on the figure"


def test_audit_counts_the_shrinking_of_wide_figures():
    """11 pt is readable in a 10-inch figure, not in a 16-inch one shrunk to the column."""
    for width, readable in ((10, True), (16, False)):
        fig = Figure(figsize=(width, 3), layout="constrained")
        for ax in fig.subplots(1, 4):
            ax.plot([0, 1], [0, 1])
            ax.tick_params(labelsize=11)
            ax.set_title("panel", fontsize=13)
            ax.text(0.5, 0.5, "annotation", fontsize=11)
        fig.suptitle("suptitle", fontsize=14)
        problems = viz.audit_figure_text(fig)
        assert (problems == []) == readable, problems[:3]
        if not readable:
            texts = " ".join(problems)
            assert "'annotation'" in texts and "'suptitle'" in texts and "'panel'" in texts


def test_audit_ignores_hidden_and_empty_texts_and_sees_legends_and_colorbars():
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.tick_params(labelsize=12)
    im = ax.imshow(np.eye(3))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(fontsize=8)
    fig.colorbar(im, ax=ax, label="colour")
    ax.text(0, 0, "hidden", fontsize=5, visible=False)
    ax.text(0, 0, "", fontsize=5)
    texts = " ".join(viz.audit_figure_text(fig))
    assert "'a line'" in texts and "'colour'" in texts  # legend 8 pt, colorbar label 10 pt
    assert "hidden" not in texts and "''" not in texts


@pytest.mark.parametrize("make", [
    lambda: viz.show_filters(np.random.default_rng(0).standard_normal((16, 1, 5, 5))),
    lambda: viz.show_filters(np.random.default_rng(0).standard_normal((4, 3, 5, 5))),
    lambda: viz.show_feature_maps(np.random.default_rng(0).standard_normal((16, 8, 8))),
    lambda: viz.show_feature_maps(np.random.default_rng(0).random((6, 8, 8)), scale="per_map"),
    lambda: viz.show_images(np.zeros((12, 28, 28)), np.arange(12) % 10,
                            np.arange(12)[::-1] % 10, ncols=6),
    lambda: viz.show_images(np.zeros((16, 28, 28)), np.arange(16) % 10),
    lambda: viz.plot_history(_history(), title="run"),
    lambda: viz.plot_confusion_matrix(np.arange(100).reshape(10, 10)),
    lambda: viz.show_matrix(np.array([[1.5, -2.25], [3.0, 0.0]]), title="kernel"),
], ids=["filters", "filters_channels", "maps", "maps_per_map", "images_preds", "images",
        "history", "confusion", "matrix"])
def test_every_viz_figure_is_readable(make):
    assert viz.audit_figure_text(make()) == []


def test_inline_backend_figures_fail_when_unreadable():
    """With the audit installed (COURSE_AUDIT_FIGURES=1), IPython's print_figure (what the
    inline backend and a Figure as a cell's value use) raises; savefig does not."""
    from IPython.core.pylabtools import print_figure

    bad = Figure(figsize=(14, 3))
    for ax in bad.subplots(1, 5):
        ax.plot([0, 1], [0, 1])
        ax.set_title("cramped")
    good = viz.show_matrix(np.eye(2), title="fine")
    viz.install_figure_audit()
    try:
        assert print_figure(good, "png")[:4] == b"\x89PNG"
        with pytest.raises(AssertionError, match=r"too small to read in figure 'cramped"):
            print_figure(bad, "png")
        bad.savefig(io.BytesIO(), format="png")  # files written on purpose are not audited
    finally:
        viz.remove_figure_audit()
    assert print_figure(bad, "png")[:4] == b"\x89PNG"


def test_use_lesson_style_sets_readable_sizes():
    with matplotlib.rc_context():
        viz.use_lesson_style()
        fig = Figure(figsize=(10, 4), layout="constrained")
        for ax in fig.subplots(1, 2):
            ax.plot([0, 1], [0, 1], label="line")
            ax.set(title="title", xlabel="x", ylabel="y")
            ax.legend()
        fig.suptitle("suptitle")
        assert viz.audit_figure_text(fig) == []


@pytest.mark.parametrize("stem", [lesson.stem for lesson in LESSONS])
def test_every_lesson_arms_the_figure_audit(stem):
    """nbval runs the lessons with COURSE_AUDIT_FIGURES=1 (tests/conftest.py); the audit is
    installed when course_lib.viz is imported, which use_lesson_style() guarantees. Every
    lesson that draws a figure calls it before its first figure."""
    nb = json.loads((NOTEBOOKS_DIR / f"{stem}.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    draws = [i for i, s in enumerate(code) if "plt." in s or "viz." in s]
    styled = [i for i, s in enumerate(code) if "viz.use_lesson_style()" in s]
    assert not draws or (styled and styled[0] <= draws[0]), (
        f"{stem}: call course_lib.viz.use_lesson_style() in the setup cell")
