"""Values of the functional ops: against SciPy, hand-computed cases, ties and numerics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import FAST_CONV_VERSIONS, assert_close, conv_version
from scipy import signal

from course_lib import functional as F
from course_lib import readable as R

BOTH = pytest.mark.parametrize("mod", [F, R], ids=["fast", "readable"])


def scipy_conv2d(x, weight, bias=None, mode="valid", flip=False):
    """Reference: out[n, f] = bias[f] + sum_c correlate(x[n, c], weight[f, c], mode)."""
    op = signal.convolve if flip else signal.correlate
    out = np.array([[sum(op(x[n, c], weight[f, c], mode=mode) for c in range(x.shape[1]))
                     for f in range(weight.shape[0])] for n in range(x.shape[0])])
    return out if bias is None else out + bias[None, :, None, None]


# ----------------------------------------------------------------------------- conv vs scipy
@BOTH
@pytest.mark.parametrize("x_shape, w_shape", [
    ((1, 1, 5, 5), (1, 1, 3, 3)),
    ((2, 3, 7, 6), (4, 3, 3, 2)),
    ((1, 2, 4, 9), (3, 2, 1, 4)),
    ((3, 1, 6, 6), (2, 1, 1, 1)),
    ((1, 2, 5, 5), (1, 2, 5, 5)),
])
def test_conv2d_matches_scipy_correlate(mod, rng, x_shape, w_shape):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(
        w_shape[0])
    assert_close(mod.conv2d(x, w, b), scipy_conv2d(x, w, b), 1e-12)
    assert_close(mod.conv2d(x, w), scipy_conv2d(x, w), 1e-12)


@BOTH
def test_conv2d_padding_matches_scipy_full_and_same(mod, rng):
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    # zero padding k-1 on every side is SciPy's 'full' correlation
    assert_close(mod.conv2d(x, w, padding=2), scipy_conv2d(x, w, mode="full"), 1e-12)
    # odd kernel: 'same' padding centres the kernel exactly like SciPy's 'same'
    assert_close(mod.conv2d(x, w, padding="same"), scipy_conv2d(x, w, mode="same"), 1e-12)


@BOTH
@pytest.mark.parametrize("stride", [2, 3, (2, 1), (1, 3)])
def test_conv2d_stride_is_subsampled_stride_1(mod, rng, stride):
    x, w, b = rng.standard_normal((2, 2, 9, 8)), rng.standard_normal((3, 2, 3, 2)), \
        rng.standard_normal(3)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    full = scipy_conv2d(x, w, b)
    assert_close(mod.conv2d(x, w, b, stride=stride), full[:, :, ::sh, ::sw], 1e-12)
    assert_close(mod.conv2d(x, w, b, stride=stride, padding=1),
                 mod.conv2d(x, w, b, padding=1)[:, :, ::sh, ::sw], 1e-12)


@BOTH
def test_conv2d_dilation_equals_conv_with_zero_stuffed_kernel(mod, rng):
    x, w = rng.standard_normal((1, 2, 9, 10)), rng.standard_normal((2, 2, 3, 2))
    d = (2, 3)
    stuffed = np.zeros((2, 2, d[0] * 2 + 1, d[1] * 1 + 1))
    stuffed[:, :, ::d[0], ::d[1]] = w
    assert_close(mod.conv2d(x, w, dilation=d), scipy_conv2d(x, stuffed), 1e-12)


@BOTH
def test_flipped_kernel_turns_correlation_into_convolution(mod, rng):
    """conv2d is cross-correlation: flipping the kernel gives true convolution."""
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((2, 3, 3, 2))
    flipped = w[:, :, ::-1, ::-1].copy()
    assert_close(mod.conv2d(x, flipped), scipy_conv2d(x, w, flip=True), 1e-12)
    # and the unflipped kernel is *not* a convolution (the two differ for a generic kernel)
    assert not np.allclose(mod.conv2d(x, w), scipy_conv2d(x, w, flip=True))


def test_conv2d_hand_computed():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[i, j] - x[i+1, j+1] = -5 everywhere
    np.testing.assert_array_equal(F.conv2d(x, w), np.full((1, 1, 3, 3), -5.0))
    np.testing.assert_array_equal(F.conv2d(x, w, np.array([5.0])), np.zeros((1, 1, 3, 3)))
    out = F.conv2d(x, np.ones((1, 1, 1, 1)), padding=1)
    assert out.shape == (1, 1, 6, 6)
    assert out[0, 0, 0].sum() == 0 and out[0, 0, 1:5, 1:5].sum() == x.sum()


@pytest.mark.parametrize("k, d", [(2, 1), (3, 1), (4, 1), (2, 2), (3, 2), (4, 3)])
def test_conv2d_same_keeps_size_and_puts_extra_padding_bottom_right(rng, k, d):
    x, w = rng.standard_normal((1, 1, 7, 6)), rng.standard_normal((1, 1, k, k))
    out = F.conv2d(x, w, padding="same", dilation=d)
    assert out.shape == x.shape
    total = d * (k - 1)
    lo = total // 2
    explicit = F.conv2d(F.pad2d(x, (lo, total - lo, lo, total - lo)), w, dilation=d)
    assert_close(out, explicit, 1e-12)


def test_conv2d_valid_is_no_padding(rng):
    x, w = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((1, 2, 2, 3))
    np.testing.assert_array_equal(F.conv2d(x, w, padding="valid"), F.conv2d(x, w))


@pytest.mark.parametrize("n, k, s, p, d, expected", [
    (28, 5, 1, 0, 1, 24), (28, 5, 1, 2, 1, 28), (7, 3, 2, 0, 1, 3), (8, 3, 2, 1, 1, 4),
    (10, 3, 3, 0, 2, 2), (5, 5, 1, 0, 1, 1), (1, 3, 1, 1, 1, 1),
])
def test_conv_output_size(n, k, s, p, d, expected):
    assert F.conv_output_size(n, k, s, p, d) == expected
    x = np.zeros((1, 1, n, n))
    assert F.conv2d(x, np.zeros((1, 1, k, k)), stride=s, padding=p, dilation=d).shape[2:] == (
        expected, expected)


def test_pad2d_layouts():
    x = np.ones((1, 1, 2, 3))
    assert F.pad2d(x, 1).shape == (1, 1, 4, 5)
    assert F.pad2d(x, (1, 2)).shape == (1, 1, 4, 7)
    out = F.pad2d(x, (1, 0, 2, 3), value=-1.0)  # torch order: left, right, top, bottom
    assert out.shape == (1, 1, 7, 4)
    np.testing.assert_array_equal(out[0, 0, 2:4, 1:4], 1.0)
    assert (out == -1).sum() == out.size - x.size
    np.testing.assert_array_equal(F.pad2d(x, 0), x)


# ----------------------------------------------------------------------------- pooling values
@BOTH
def test_max_and_avg_pool_hand_computed(mod):
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(mod.max_pool2d(x, 2), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(mod.avg_pool2d(x, 2), [[[[2.5, 4.5], [10.5, 12.5]]]])
    np.testing.assert_array_equal(mod.max_pool2d(x, 3, stride=1),
                                  [[[[10, 11], [14, 15]]]])
    # padding: -inf for max (never wins), zero counted in the mean for avg
    np.testing.assert_array_equal(mod.max_pool2d(-x - 1, 2, padding=1)[0, 0, 0], [-1, -2, -4])
    np.testing.assert_array_equal(mod.avg_pool2d(x + 4, 2, padding=1)[0, 0, 0],
                                  [4 / 4, (5 + 6) / 4, 7 / 4])


@BOTH
def test_avg_pool_backward_spreads_evenly(mod):
    x = np.zeros((1, 1, 4, 4))
    out, cache = mod.avg_pool2d_forward(x, 2)
    dx = mod.avg_pool2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx, np.full_like(x, 0.25))
    out, cache = mod.avg_pool2d_forward(x, 3, stride=1)  # overlapping: centre cells count 4x
    dx = mod.avg_pool2d_backward(np.ones_like(out), cache)
    np.testing.assert_allclose(dx[0, 0], np.array([[1, 2, 2, 1], [2, 4, 4, 2],
                                                   [2, 4, 4, 2], [1, 2, 2, 1]]) / 9)


# ----------------------------------------------------------------------------- max-pool ties
@BOTH
def test_max_pool_ties_constant_input_first_in_row_major(mod):
    x = np.full((1, 2, 4, 6), 3.0)
    out, cache = mod.max_pool2d_forward(x, 2)
    dout = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    dx = mod.max_pool2d_backward(dout, cache)
    expected = np.zeros_like(x)
    expected[:, :, ::2, ::2] = dout  # top-left of every window
    np.testing.assert_array_equal(dx, expected)


@BOTH
def test_max_pool_ties_overlapping_constant_input(mod):
    """stride 1, kernel 2 on a constant 3x3: window (i, j)'s first cell is (i, j)."""
    x = np.zeros((1, 1, 3, 3))
    out, cache = mod.max_pool2d_forward(x, 2, stride=1)
    dx = mod.max_pool2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@BOTH
def test_max_pool_crafted_ties(mod):
    x = np.array([[[[0, 7, 1, 9],
                    [7, 2, 9, 9],
                    [5, 5, 4, 6],
                    [3, 5, 6, 6]]]], dtype=np.float64)
    out, cache = mod.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(out, [[[[7, 9], [5, 6]]]])
    dx = mod.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 0, 2],
                                             [0, 0, 0, 0],
                                             [3, 0, 0, 4],
                                             [0, 0, 0, 0]])


@BOTH
def test_max_pool_ties_in_padded_overlapping_windows(mod):
    x = np.array([[[[1, 1, 1],
                    [2, 2, 1],
                    [2, 1, 2]]]], dtype=np.float64)
    out, cache = mod.max_pool2d_forward(x, 2, stride=1, padding=1)
    assert out.shape == (1, 1, 4, 4)
    dx = mod.max_pool2d_backward(np.ones_like(out), cache)
    # each of the 16 windows routes its gradient to one cell, the first max in row-major order
    expected = np.zeros((3, 3))
    xp = np.pad(x[0, 0], 1, constant_values=-np.inf)
    for i in range(4):
        for j in range(4):
            u, v = np.unravel_index(np.argmax(xp[i:i + 2, j:j + 2]), (2, 2))
            expected[i + u - 1, j + v - 1] += 1
    np.testing.assert_array_equal(dx[0, 0], expected)
    assert dx.sum() == out.size


# ----------------------------------------------------------------------------- relu, linear
def test_relu_and_its_gradient_at_zero():
    x = np.array([[-2.0, 0.0, 3.0]])
    out, cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, [[0, 0, 3]])
    np.testing.assert_array_equal(F.relu_backward(np.ones_like(x), cache), [[0, 0, 1]])
    np.testing.assert_array_equal(F.relu(x), out)


def test_linear_values(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    assert_close(F.linear(x, w, b), np.einsum("ni,oi->no", x, w) + b, 1e-12)
    assert_close(F.linear(x, w), x @ w.T, 1e-12)
    out, cache = F.linear_forward(x, w, None)
    assert F.linear_backward(np.ones_like(out), cache)[2] is None


# ----------------------------------------------------------------------------- softmax & loss
def test_softmax_values_and_invariance(rng):
    z = rng.standard_normal((3, 5))
    p = F.softmax(z)
    assert_close(p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), 1e-12)
    assert_close(p.sum(axis=1), np.ones(3), 1e-12)
    assert_close(F.softmax(z + 123.4), p, 1e-12)
    assert_close(F.softmax(z - np.array([[1.0], [50.0], [-7.0]])), p, 1e-12)
    assert_close(F.softmax(z, axis=0), (np.exp(z) / np.exp(z).sum(axis=0)), 1e-12)
    assert_close(F.log_softmax(z), np.log(p), 1e-12)
    assert_close(F.log_softmax(z + 1e3), F.log_softmax(z), 1e-12)


def test_cross_entropy_values(rng):
    z, y = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(6), y]))
    assert F.cross_entropy(z, y) == pytest.approx(expected, rel=1e-12)
    assert isinstance(F.cross_entropy(z, y), float)
    # uniform logits: loss log(K)
    assert F.cross_entropy(np.zeros((3, 10)), np.array([1, 5, 9])) == pytest.approx(np.log(10))
    # the gradient is (p - onehot) / N
    _, cache = F.cross_entropy_forward(z, y)
    onehot = np.eye(4)[y]
    assert_close(F.cross_entropy_backward(1.0, cache), (p - onehot) / 6, 1e-12)
    assert_close(F.cross_entropy_backward(2.5, cache), 2.5 * (p - onehot) / 6, 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_perfect_prediction_is_zero(dtype):
    z = np.array([[100.0, 0.0, 0.0], [0.0, 0.0, 60.0]], dtype=dtype)
    loss = F.cross_entropy(z, np.array([0, 2]))
    assert 0.0 <= loss < 1e-20
    # and a confidently wrong prediction costs the logit gap
    assert F.cross_entropy(z, np.array([1, 0])) == pytest.approx(80.0, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big", [1e4, -1e4])
def test_softmax_family_is_finite_for_huge_logits(dtype, big):
    """No overflow, no NaN, no warning. Underflow of exp(-2e4) to an exact 0 is the right
    answer (NumPy ignores underflow by default), so only over/divide/invalid are trapped."""
    z = np.array([[big, 0.0, -big], [big, big, big], [-big, -big, big]], dtype=dtype)
    y = np.array([0, 1, 2])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        p, p_cache = F.softmax_forward(z)
        logp, l_cache = F.log_softmax_forward(z)
        loss, ce_cache = F.cross_entropy_forward(z, y)
        dp = F.softmax_backward(np.ones_like(z), p_cache)
        dl = F.log_softmax_backward(np.ones_like(z), l_cache)
        dz = F.cross_entropy_backward(1.0, ce_cache)
    for a in (p, logp, dp, dl, dz):
        assert np.all(np.isfinite(a)) and a.dtype == dtype
    assert np.isfinite(loss)
    a = abs(big)
    sign = 1 if big > 0 else -1
    # row 0: the largest logit takes everything; row 1: a three-way tie
    top = 0 if sign > 0 else 2
    expected_p0 = np.zeros(3)
    expected_p0[top] = 1.0
    np.testing.assert_allclose(p[0], expected_p0, atol=1e-7)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(logp[0], np.array([big, 0, -big]) - max(big, -big), rtol=1e-6)
    np.testing.assert_allclose(logp[1], [-np.log(3)] * 3, rtol=1e-6)
    # loss: row 0 label 0, row 1 label 1 (log 3), row 2 label 2
    row0 = 0.0 if sign > 0 else 2 * a
    row2 = 0.0 if sign > 0 else 2 * a + np.log(2)  # logits (a, a, -a), label 2: the low one
    assert loss == pytest.approx((row0 + np.log(3) + row2) / 3, rel=1e-6)
    np.testing.assert_allclose(dp, 0.0, atol=1e-6)  # softmax sums to 1: d(sum p) = 0
    np.testing.assert_allclose(dz.sum(axis=1), 0.0, atol=1e-6)


# ----------------------------------------------------------------------------- batch norm
def test_batch_norm_training_normalises_and_updates_running_stats(rng):
    x = rng.standard_normal((4, 3, 5, 2)) * 3 + 2
    w, b = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    rm, rv = np.zeros(3), np.ones(3)
    out, _ = F.batch_norm2d_forward(x, w, b, rm, rv, training=True, momentum=0.1, eps=1e-5)
    mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    xhat = (x - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    assert_close(out, w[:, None, None] * xhat + b[:, None, None], 1e-12)
    assert_close(out.mean(axis=(0, 2, 3)), b, 1e-10)
    m = 4 * 5 * 2
    assert_close(rm, 0.1 * mu, 1e-12)
    assert_close(rv, 0.9 + 0.1 * var * m / (m - 1), 1e-12)


def test_batch_norm_eval_uses_running_stats(rng):
    x = rng.standard_normal((2, 2, 3, 3))
    rm, rv = np.array([0.5, -1.0]), np.array([4.0, 0.25])
    w, b = np.array([2.0, 1.0]), np.array([0.0, 1.0])
    out, _ = F.batch_norm2d_forward(x, w, b, rm.copy(), rv.copy(), training=False, eps=0.0)
    assert_close(out, w[:, None, None] * (x - rm[:, None, None]) / np.sqrt(rv[:, None, None])
                 + b[:, None, None], 1e-12)


# ----------------------------------------------------------------------------- dropout
def test_dropout_functional_mask_and_scale():
    x = np.ones((200, 50))
    out, cache = F.dropout_forward(x, 0.3, rng=0)
    mask, p = cache
    assert p == 0.3 and set(np.unique(mask)) <= {0.0, 1.0}
    assert_close(out, x * mask / 0.7, 1e-12)
    assert abs((mask == 0).mean() - 0.3) < 0.02
    # backward applies exactly the same mask and scale
    dout = np.random.default_rng(1).standard_normal(x.shape)
    assert_close(F.dropout_backward(dout, cache), dout * mask / 0.7, 1e-12)
    # same seed, same mask; eval mode and p=0 are the identity
    np.testing.assert_array_equal(F.dropout_forward(x, 0.3, rng=0)[0], out)
    np.testing.assert_array_equal(F.dropout_forward(x, 0.3, rng=0, training=False)[0], x)
    np.testing.assert_array_equal(F.dropout_forward(x, 0.0, rng=0)[0], x)
    np.testing.assert_array_equal(F.dropout_forward(x, 1.0, rng=0)[0], 0.0)


# ----------------------------------------------------------------------------- no side effects
def _op_calls(mod, rng):
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), \
        rng.standard_normal(4)
    calls = {
        "conv2d": (mod.conv2d_forward, mod.conv2d_backward,
                   dict(x=x, weight=w, bias=b, stride=(2, 1), padding=1, dilation=(1, 2))),
        "conv2d_valid": (mod.conv2d_forward, mod.conv2d_backward, dict(x=x, weight=w)),
        "max_pool2d": (mod.max_pool2d_forward, mod.max_pool2d_backward,
                       dict(x=x, kernel_size=3, stride=1, padding=1)),
        "avg_pool2d": (mod.avg_pool2d_forward, mod.avg_pool2d_backward,
                       dict(x=x, kernel_size=2)),
    }
    if mod is F:
        calls |= {
            "relu": (F.relu_forward, F.relu_backward, dict(x=x)),
            "linear": (F.linear_forward, F.linear_backward,
                       dict(x=x[:, :, 0, 0], weight=w[:, :, 0, 0], bias=b)),
            "softmax": (F.softmax_forward, F.softmax_backward, dict(z=x)),
            "log_softmax": (F.log_softmax_forward, F.log_softmax_backward, dict(z=x)),
            "batch_norm2d": (F.batch_norm2d_forward, F.batch_norm2d_backward,
                             dict(x=x, weight=b[:3], bias=b[1:])),
            "dropout": (F.dropout_forward, F.dropout_backward, dict(x=x, p=0.5, rng=0)),
        }
    return calls


@BOTH
def test_ops_do_not_modify_their_inputs_or_dout(mod, rng):
    for name, (forward, backward, inputs) in _op_calls(mod, rng).items():
        before = {k: v.copy() for k, v in inputs.items() if isinstance(v, np.ndarray)}
        out, cache = forward(**inputs)
        dout = rng.standard_normal(out.shape)
        dout_before = dout.copy()
        backward(dout, cache)
        for k, v in before.items():
            np.testing.assert_array_equal(inputs[k], v, err_msg=f"{name} changed {k}")
        np.testing.assert_array_equal(dout, dout_before, err_msg=f"{name} changed dout")


@BOTH
@pytest.mark.parametrize("kernel_size, stride", [(1, 1), (2, 2), (3, 1)])
def test_pool_outputs_do_not_alias_the_input(mod, kernel_size, stride, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    for forward in (mod.max_pool2d_forward, mod.avg_pool2d_forward):
        out, cache = forward(x, kernel_size, stride)
        assert not np.shares_memory(out, x), forward.__name__
        dx = (mod.max_pool2d_backward if forward is mod.max_pool2d_forward
              else mod.avg_pool2d_backward)(np.ones_like(out), cache)
        assert not np.shares_memory(dx, x), forward.__name__


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((2, 3, 9, 7), (4, 3, 3, 2), 1, 0, 1),
    ((1, 2, 20, 24), (3, 2, 5, 5), 1, 2, 1),      # rows longer than 16
    ((2, 1, 11, 13), (2, 1, 3, 3), 1, (1, 2), (2, 3)),
    ((3, 2, 6, 6), (2, 2, 1, 1), 1, 0, 1),
    ((2, 2, 9, 8), (3, 2, 3, 3), (2, 1), 1, 1),   # stride: never the stride-1 col2im
])
@pytest.mark.parametrize("version", FAST_CONV_VERSIONS)
def test_every_fast_conv_branch_equals_functional(x_shape, w_shape, stride, padding, dilation,
                                                  version, rng):
    """Each forced branch of fast_conv gives functional's numbers to float64 round-off."""
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(
        w_shape[0])
    args = dict(stride=stride, padding=padding, dilation=dilation)
    out, cache = F.conv2d_forward(x, w, b, **args)
    dout = rng.standard_normal(out.shape)
    expected = (out, *F.conv2d_backward(dout, cache))
    with conv_version(version) as fast:
        out_fast, cache_fast = fast.conv2d_forward(x, w, b, **args)
        got = (out_fast, *fast.conv2d_backward(dout, cache_fast))
    assert cache_fast.per_image == version.startswith("fast:per_image")
    for name, a, e in zip(("out", "dx", "dweight", "dbias"), got, expected, strict=True):
        assert_close(a, e, 1e-12, name)


def test_fast_conv_chooses_its_branches_by_shape(rng):
    """Unforced, per-image products from PER_IMAGE_MIN_PIXELS output pixels on."""
    from course_lib import fast_conv
    w = rng.standard_normal((2, 1, 3, 3))
    big = fast_conv.conv2d_forward(rng.standard_normal((1, 1, 18, 18)), w)[1]  # 16x16 out
    small = fast_conv.conv2d_forward(rng.standard_normal((1, 1, 17, 17)), w)[1]  # 15x15
    assert fast_conv.PER_IMAGE_MIN_PIXELS == 256
    assert big.per_image and not small.per_image
