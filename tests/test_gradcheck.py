"""Every backward pass agrees with central differences in float64, and gradcheck itself
tells a correct backward from a wrong one.

Arrays are tiny: a numerical gradient costs two forward passes per input entry.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CONV_VERSIONS, conv_version, distinct

import course_lib as cl
from course_lib import functional as F
from course_lib import readable as R
from course_lib.gradcheck import (
    check_function,
    check_gradient,
    check_layer,
    numerical_gradient,
    rel_error,
)


def assert_passes(report):
    assert report, f"\n{report}"
    assert report.rows, "the report checked nothing"


# ----------------------------------------------------------------------------- conv2d
CONV_CASES = {
    "bias": dict(x=(2, 2, 5, 6), w=(3, 2, 3, 3), bias=True),
    "no_bias": dict(x=(2, 2, 5, 6), w=(3, 2, 3, 3), bias=False),
    "stride2": dict(x=(1, 2, 7, 6), w=(2, 2, 3, 3), stride=2, bias=True),
    "stride_pair_not_dividing": dict(x=(2, 1, 7, 8), w=(2, 1, 2, 3), stride=(3, 2), bias=True),
    "padding_int": dict(x=(1, 2, 4, 5), w=(2, 2, 3, 3), padding=1, bias=True),
    "padding_pair": dict(x=(1, 2, 4, 5), w=(2, 2, 3, 2), padding=(2, 1), bias=True),
    "same_odd": dict(x=(1, 2, 5, 4), w=(2, 2, 3, 3), padding="same", bias=True),
    "same_even_dilated": dict(x=(1, 2, 5, 6), w=(2, 2, 2, 4), padding="same", dilation=2,
                              bias=True),
    "valid": dict(x=(2, 2, 4, 4), w=(2, 2, 2, 2), padding="valid", bias=False),
    "dilation": dict(x=(1, 2, 7, 8), w=(2, 2, 3, 2), dilation=(2, 3), bias=True),
    "non_square_1x1": dict(x=(2, 3, 3, 5), w=(2, 3, 1, 1), bias=True),
    "all_together": dict(x=(2, 2, 8, 7), w=(3, 2, 2, 3), stride=(2, 3), padding=(1, 2),
                         dilation=(2, 1), bias=True),
}


@pytest.mark.parametrize("version", CONV_VERSIONS)
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_gradcheck(version, case, rng):
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0]) if case["bias"] else None
    inputs = dict(x=x, weight=w, bias=b, stride=case.get("stride", 1),
                  padding=case.get("padding", 0), dilation=case.get("dilation", 1))
    with conv_version(version) as mod:
        report = check_function(mod.conv2d_forward, mod.conv2d_backward, inputs)
    assert_passes(report)
    assert [r[0] for r in report.rows] == ["dx", "dweight"] + (["dbias"] if case["bias"] else [])


# ----------------------------------------------------------------------------- pooling
POOL_CASES = {
    "k2": dict(x=(2, 2, 4, 6), kernel_size=2),
    "overlapping": dict(x=(1, 2, 5, 5), kernel_size=3, stride=1),
    "overlapping_stride2": dict(x=(2, 1, 7, 6), kernel_size=3, stride=2),
    "padding": dict(x=(1, 2, 5, 5), kernel_size=2, stride=2, padding=1),
    "padding_overlap_pair": dict(x=(1, 2, 5, 6), kernel_size=(3, 2), stride=(1, 2),
                                 padding=(1, 1)),
    "gapped_non_dividing": dict(x=(1, 1, 7, 8), kernel_size=2, stride=3),
}


@pytest.mark.parametrize("mod", [F, R], ids=["fast", "readable"])
@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pool_gradcheck(mod, op, case, rng):
    inputs = dict(x=distinct(rng, case["x"]), kernel_size=case["kernel_size"],
                  stride=case.get("stride"), padding=case.get("padding", 0))
    forward = getattr(mod, f"{op}_pool2d_forward")
    backward = getattr(mod, f"{op}_pool2d_backward")
    assert_passes(check_function(forward, backward, inputs))


# ----------------------------------------------------------------------------- elementwise, dense
def test_relu_gradcheck(rng):
    assert_passes(check_function(F.relu_forward, F.relu_backward,
                                 dict(x=distinct(rng, (3, 2, 3, 2)))))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(rng, bias):
    inputs = dict(x=rng.standard_normal((4, 5)), weight=rng.standard_normal((3, 5)),
                  bias=rng.standard_normal(3) if bias else None)
    report = check_function(F.linear_forward, F.linear_backward, inputs)
    assert_passes(report)
    assert len(report.rows) == (3 if bias else 2)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_gradcheck(rng, op, axis):
    forward, backward = getattr(F, f"{op}_forward"), getattr(F, f"{op}_backward")
    assert_passes(check_function(forward, backward,
                                 dict(z=rng.standard_normal((3, 4)) * 2, axis=axis)))


def test_softmax_gradcheck_4d_channel_axis(rng):
    assert_passes(check_function(F.softmax_forward, F.softmax_backward,
                                 dict(z=rng.standard_normal((2, 3, 2, 2)), axis=1)))


def test_cross_entropy_gradcheck(rng):
    inputs = dict(logits=rng.standard_normal((5, 4)) * 3, target=np.array([0, 3, 3, 1, 2]))
    report = check_function(F.cross_entropy_forward, F.cross_entropy_backward, inputs)
    assert_passes(report)
    assert [r[0] for r in report.rows] == ["dlogits"]


# ----------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm2d_gradcheck(rng, training):
    inputs = dict(x=rng.standard_normal((3, 2, 2, 3)) * 2 + 1,
                  weight=rng.standard_normal(2), bias=rng.standard_normal(2),
                  running_mean=rng.standard_normal(2), running_var=rng.random(2) + 0.5,
                  training=training)
    report = check_function(F.batch_norm2d_forward, F.batch_norm2d_backward, inputs)
    assert_passes(report)
    assert [r[0] for r in report.rows] == ["dx", "dweight", "dbias"]


# ----------------------------------------------------------------------------- dropout
def test_dropout_backward_is_mask_scaling(rng):
    x = rng.standard_normal((4, 3, 5))
    out, cache = F.dropout_forward(x, 0.4, rng=3)
    mask, p = cache
    assert 0 < mask.sum() < mask.size
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(F.dropout_backward(dout, cache), dout * mask / (1 - 0.4),
                               rtol=1e-15)
    np.testing.assert_allclose(out, x * mask / 0.6, rtol=1e-15)


def test_dropout_gradcheck_with_fixed_mask(rng):
    """An int seed draws the same mask on every call, so dropout is a fixed linear map."""
    inputs = dict(x=rng.standard_normal((3, 4)), p=0.5, rng=11, training=True)
    assert_passes(check_function(F.dropout_forward, F.dropout_backward, inputs))


def test_dropout_gradcheck_eval_mode(rng):
    inputs = dict(x=rng.standard_normal((3, 4)), p=0.5, rng=None, training=False)
    assert_passes(check_function(F.dropout_forward, F.dropout_backward, inputs))
    assert_passes(check_layer(cl.Dropout(0.5, rng=0).eval(), rng.standard_normal((2, 3, 2))))


# ----------------------------------------------------------------------------- layers
def _bn_with_history(rng):
    bn = cl.BatchNorm2d(2, dtype=np.float64)
    bn.params["weight"][:] = rng.standard_normal(2)
    bn.params["bias"][:] = rng.standard_normal(2)
    for _ in range(3):  # non-trivial running statistics
        bn(rng.standard_normal((4, 2, 3, 3)) * 2 + 1)
    return bn


LAYERS = {
    "conv": lambda r: cl.Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=r),
    "conv_strided_dilated": lambda r: cl.Conv2d(2, 2, (2, 3), stride=(2, 1), padding=(1, 2),
                                                dilation=(1, 2), dtype=np.float64, rng=r),
    "conv_same_no_bias": lambda r: cl.Conv2d(2, 2, 2, padding="same", bias=False,
                                             dtype=np.float64, rng=r),
    "maxpool": lambda r: cl.MaxPool2d(2),
    "maxpool_tiles_2x3": lambda r: cl.MaxPool2d((2, 3)),
    "maxpool_overlap_pad": lambda r: cl.MaxPool2d(3, stride=2, padding=1),
    "avgpool": lambda r: cl.AvgPool2d((2, 3), stride=1, padding=(1, 1)),
    "relu": lambda r: cl.ReLU(),
    "flatten": lambda r: cl.Flatten(),
    "batchnorm_train": lambda r: _bn_with_history(r).train(),
    "batchnorm_eval": lambda r: _bn_with_history(r).eval(),
    "dropout_eval": lambda r: cl.Dropout(0.3, rng=r).eval(),
}


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_layer_gradcheck(make, rng):
    layer = make(rng)
    x = distinct(rng, (2, 2, 5, 4))
    report = check_layer(layer, x)
    assert_passes(report)
    assert [r[0] for r in report.rows] == ["dx"] + ["d" + k for k in layer.params]


def test_linear_layer_gradcheck(rng):
    layer = cl.Linear(5, 3, rng=rng).astype(np.float64)
    layer.params["bias"][:] = rng.standard_normal(3)
    assert_passes(check_layer(layer, rng.standard_normal((4, 5))))


def _small_cnn(rng, extra=()):
    # a conv bias right before batch norm has an exactly zero gradient (BN subtracts the
    # channel mean), which a relative error cannot judge: no bias there, as usual
    return cl.Sequential(
        cl.Conv2d(2, 3, 3, padding=1, bias=not extra, dtype=np.float64, rng=rng),
        *extra,
        cl.ReLU(),
        cl.MaxPool2d(2),
        cl.Flatten(),
        cl.Linear(3 * 3 * 3, 4, dtype=np.float64, rng=rng),
    )


@pytest.mark.parametrize("extra", [(), ("bn",)], ids=["conv_relu_pool_linear", "with_batchnorm"])
def test_sequential_cnn_with_loss_gradcheck(rng, extra):
    """d loss / d every parameter (and the input) of conv -> relu -> pool -> flatten -> linear."""
    model = _small_cnn(rng, [cl.BatchNorm2d(3, dtype=np.float64)] if extra else [])
    for k, p in model.params.items():
        if k.endswith("bias"):  # non-zero biases so their gradients are not trivially tested
            p[:] = rng.standard_normal(p.shape) * 0.1
    criterion = cl.CrossEntropyLoss()
    x = rng.standard_normal((3, 2, 6, 6))
    y = np.array([0, 3, 1])
    criterion(model(x), y)
    dx = model.backward(criterion.backward())
    grads = {k: g.copy() for k, g in model.grads.items()}
    assert grads.keys() == model.params.keys()

    def loss(_):
        return criterion(model(x), y)

    assert_passes(check_gradient(loss, x, dx))
    for k, p in model.params.items():
        assert_passes(check_gradient(loss, p, grads[k], name="d" + k))


def test_exactly_zero_gradient_passes_by_the_absolute_floor(rng):
    """A conv bias right before batch norm has gradient exactly 0 (BN removes the channel
    mean); analytic and numerical values are both round-off, so the relative error is ~1
    and only the absolute floor can pass it."""
    model = cl.Sequential(cl.Conv2d(2, 3, 3, dtype=np.float64, rng=rng),
                          cl.BatchNorm2d(3, dtype=np.float64))
    report = check_layer(model, rng.standard_normal((2, 2, 4, 4)))
    assert_passes(report)
    name, err, abs_err = report.rows[[r[0] for r in report.rows].index("d0.bias")]
    assert abs_err < 1e-8  # both sides are round-off around 0


def test_absolute_floor_does_not_hide_a_wrong_zero_gradient(rng):
    x = rng.standard_normal(5)
    assert not check_gradient(lambda v: np.sum(v ** 2), x, np.zeros(5))
    assert not check_gradient(lambda v: 1e-3 * np.sum(v), x, np.zeros(5))


def test_check_layer_on_sequential(rng):
    model = _small_cnn(rng)
    report = check_layer(model, rng.standard_normal((2, 2, 6, 6)))
    assert_passes(report)
    assert [r[0] for r in report.rows] == ["dx"] + ["d" + k for k in model.params]


# ----------------------------------------------------------------------------- gradcheck itself
def _linear_backward_missing_transpose(dout, cache):
    x, weight, _ = cache
    dx, dw, db = F.linear_backward(dout, cache)
    return dout @ weight.T, dw, db  # weight is square below, so the shape is still right


def _relu_backward_factor_two(dout, cache):
    return 2 * F.relu_backward(dout, cache)


def test_report_is_falsy_for_a_wrong_backward(rng):
    inputs = dict(x=rng.standard_normal((4, 3)), weight=rng.standard_normal((3, 3)),
                  bias=rng.standard_normal(3))
    good = check_function(F.linear_forward, F.linear_backward, inputs)
    bad = check_function(F.linear_forward, _linear_backward_missing_transpose, inputs)
    assert good and good.passed
    assert not bad and not bad.passed
    errors = {name: err for name, err, _ in bad.rows}
    assert errors["dx"] > 1e-2 and errors["dweight"] < 1e-7 and errors["dbias"] < 1e-7
    assert "FAIL" in str(bad) and "FAIL" not in str(good) and "ok" in str(good)

    relu_inputs = dict(x=distinct(rng, (3, 4)))
    assert not check_function(F.relu_forward, _relu_backward_factor_two, relu_inputs)


def test_report_is_falsy_for_a_layer_with_a_wrong_gradient(rng):
    class HalfGradLinear(cl.Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["weight"] = self.grads["weight"] / 2
            return dx

    layer = HalfGradLinear(3, 2, dtype=np.float64, rng=0)
    report = check_layer(layer, rng.standard_normal((4, 3)))
    assert not report
    assert {name for name, err, _ in report.rows if err > report.tol} == {"dweight"}


def test_gradcheck_rejects_float32(rng):
    x32 = rng.standard_normal((2, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="x must be float64"):
        numerical_gradient(lambda v: v ** 2, x32)
    with pytest.raises(TypeError, match="float64"):
        check_function(F.relu_forward, F.relu_backward, dict(x=x32))
    with pytest.raises(TypeError, match="x must be float64"):
        check_layer(cl.ReLU(), x32)
    with pytest.raises(TypeError, match=r"params\['weight'\] must be float64"):
        check_layer(cl.Linear(3, 2, rng=0), rng.standard_normal((2, 3)))  # float32 weights


def test_numerical_gradient_values_and_restores_x(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    g = numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_array_equal(x, before)  # bit for bit
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-7, atol=1e-8)
    dout = rng.standard_normal((3, 4))
    g = numerical_gradient(lambda v: np.sin(v), x, dout)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g, np.cos(x) * dout, rtol=1e-7, atol=1e-9)


def test_numerical_gradient_restores_x_when_f_fails(rng):
    x = rng.standard_normal(4)
    before = x.copy()

    def f(v):
        if v[2] != before[2]:
            raise ArithmeticError("boom")
        return v

    with pytest.raises(ArithmeticError):
        numerical_gradient(f, x)
    # the entry being perturbed when f raised must not stay perturbed
    np.testing.assert_array_equal(x, before)


def test_rel_error():
    a = np.array([1.0, 2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(a, a * (1 + 1e-9)) == pytest.approx(0.5e-9, rel=1e-3)
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(3), np.zeros(4))


def test_check_gradient_shape_mismatch_is_an_error(rng):
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match="shape"):
        check_gradient(lambda v: v.sum(), x, np.ones(4))
