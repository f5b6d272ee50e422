"""course_lib.explain: MNIST's preprocessing of a drawing, saliency and occlusion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from course_lib import explain, paths
from course_lib.data import load_mnist
from course_lib.train import load_model

DIGITS = 20


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(download=False)


@pytest.fixture(scope="module")
def lenet():
    return load_model(paths.WEIGHTS_DIR / "lenet.npz")


def _drawn(image, zoom=10, offset=(30, 200), size=(420, 500)):
    """A [0, 1] digit drawn ``zoom`` times larger, off-centre on a bigger canvas."""
    canvas = np.zeros(size)
    big = np.kron(image, np.ones((zoom, zoom)))
    canvas[offset[0]:offset[0] + big.shape[0], offset[1]:offset[1] + big.shape[1]] = big
    return canvas


def test_preprocessing_a_large_off_centre_drawing_gives_back_the_mnist_digit(mnist, lenet):
    for i in range(DIGITS):
        image = mnist.x_test[i] / 255.0
        out = explain.mnist_preprocess(_drawn(image, offset=(5 * i, 10 + 7 * i)))
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() == pytest.approx(1.0)
        assert np.corrcoef(out.ravel(), image.ravel())[0, 1] > 0.95, i
        rows, cols = np.nonzero(out > 0.05)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 == explain.MNIST_BOX, i   # as in MNIST
        assert np.allclose(ndimage.center_of_mass(out), (14, 14), atol=0.5), i
        x = explain.normalize_image(out)
        assert explain.saliency(lenet, x).target == mnist.y_test[i], i


def test_a_thin_vertical_stroke_keeps_its_ink_and_reads_as_a_one(lenet):
    canvas = np.zeros((560, 560))
    canvas[60:500, 278:282] = 1.0          # 4 pixels wide: 0.2 of a pixel once shrunk to 20
    out = explain.mnist_preprocess(canvas)
    assert out.max() == pytest.approx(1.0) and (out > 0.5).sum() >= 15
    assert explain.saliency(lenet, explain.normalize_image(out)).target == 1


def test_preprocessing_checks_its_canvas():
    assert not explain.mnist_preprocess(np.zeros((50, 60))).any()
    with pytest.raises(ValueError, match="canvas must hold ink amounts >= 0"):
        explain.mnist_preprocess(-np.ones((5, 5)))
    with pytest.raises(ValueError, match=r"canvas must be 2-D \(H, W\)"):
        explain.mnist_preprocess(np.zeros((1, 5, 5)))
    with pytest.raises(TypeError, match="canvas must be a numpy.ndarray"):
        explain.mnist_preprocess([[0.0, 1.0]])


def test_saliency_equals_finite_differences_of_the_logit(mnist, lenet):
    model = load_model(paths.WEIGHTS_DIR / "lenet.npz").astype(np.float64)
    x = explain.normalize_image(mnist.x_test[3] / 255.0, dtype=np.float64)
    model.train()
    s = explain.saliency(model, x)
    assert model.training, "the model's mode is restored"
    assert s.gradient.shape == x.shape and s.target == int(np.argmax(s.probabilities))
    assert s.probabilities.sum() == pytest.approx(1.0)
    model.eval()
    # pixels on the digit: on the blank background, max pooling meets ties between equal
    # activations, where the function has a kink and a finite difference straddles it
    rng, eps = np.random.default_rng(0), 1e-5
    ink = np.argwhere(mnist.x_test[3] > 0)
    for r, c in ink[rng.choice(len(ink), 10, replace=False)]:
        up, down = x.copy(), x.copy()
        up[0, r, c] += eps
        down[0, r, c] -= eps
        numeric = (model.forward(up[None])[0, s.target]
                   - model.forward(down[None])[0, s.target]) / (2 * eps)
        assert s.gradient[0, r, c] == pytest.approx(numeric, rel=1e-6, abs=1e-9), (r, c)


def test_saliency_explains_the_class_it_is_asked_about(mnist, lenet):
    x = explain.normalize_image(mnist.x_test[0] / 255.0)
    predicted, other = explain.saliency(lenet, x), explain.saliency(lenet, x, target=3)
    assert other.target == 3 and not np.allclose(other.gradient, predicted.gradient)
    with pytest.raises(ValueError, match="target must be <= 9, got 10"):
        explain.saliency(lenet, x, target=10)
    with pytest.raises(TypeError, match="model must be a course_lib Sequential"):
        explain.saliency(object(), x)


def test_occluding_blank_background_changes_nothing_and_the_digit_does(mnist, lenet):
    image = mnist.x_test[0] / 255.0
    x = explain.normalize_image(image)
    o = explain.occlusion(lenet, x, patch=6, stride=2)
    assert o.drop.shape == (12, 12) and o.pixel_drop.shape == (28, 28)
    assert o.target == mnist.y_test[0] and o.probability > 0.99
    for i in range(12):
        for j in range(12):
            if not image[2 * i:2 * i + 6, 2 * j:2 * j + 6].any():
                assert abs(o.drop[i, j]) < 1e-9, (i, j)   # the input did not change
    assert o.drop.max() > 0.1, "covering part of the digit lowers its probability"
    assert (abs(o.drop) < 1e-9).sum() > 10


def test_occlusion_checks_its_arguments(mnist, lenet):
    x = explain.normalize_image(mnist.x_test[0] / 255.0)
    with pytest.raises(ValueError, match="patch must be <= 28, got 29"):
        explain.occlusion(lenet, x, patch=29)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        explain.occlusion(lenet, x, stride=0)
    with pytest.raises(ValueError, match=r"x must be 3-D \(C, H, W\)"):
        explain.occlusion(lenet, x[0])


def test_occlusion_of_another_class_reuses_the_occluded_probabilities(mnist, lenet):
    x = explain.normalize_image(mnist.x_test[0] / 255.0)
    probabilities = explain.occluded_probabilities(lenet, x)
    assert probabilities.shape == (12 * 12 + 1, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    for target in (None, 3):
        fresh = explain.occlusion(lenet, x, target)
        reused = explain.occlusion(lenet, x, target, probabilities=probabilities)
        assert fresh.target == reused.target
        assert np.array_equal(fresh.drop, reused.drop)
        assert np.array_equal(fresh.pixel_drop, reused.pixel_drop)
    with pytest.raises(ValueError, match="must have 145 rows"):
        explain.occlusion(lenet, x, probabilities=probabilities[:-1])


def test_occlusion_runs_only_the_patches_that_change_a_pixel(mnist, lenet):
    """A patch over blank background leaves the input as it is: its row is the unoccluded
    input's own; the others equal a forward pass of the occluded image (float32 rounding)."""
    image = mnist.x_test[0] / 255.0
    x = explain.normalize_image(image)
    probabilities = explain.occluded_probabilities(lenet, x)
    blank = [not image[2 * i:2 * i + 6, 2 * j:2 * j + 6].any()
             for i in range(12) for j in range(12)]
    assert 10 < sum(blank) < 144
    assert np.array_equal(probabilities[:-1][blank], np.repeat(probabilities[-1:], sum(blank), 0))
    for k in (0, 70, 77, 143):
        occluded = x.copy()
        occluded[:, 2 * (k // 12):2 * (k // 12) + 6, 2 * (k % 12):2 * (k % 12) + 6] = x.min()
        alone = explain.occluded_probabilities(lenet, occluded, patch=28)[-1]
        assert np.allclose(probabilities[k], alone, atol=1e-5), k
