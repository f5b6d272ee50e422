"""Figures: each returns a Figure with labelled axes, the right colour map and limits."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib import viz  # noqa: E402
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
    assert titles[2] == "true 2 / pred 7" and titles[0] == "0"
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
