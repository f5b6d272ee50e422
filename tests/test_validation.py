"""Bad inputs raise a ValueError/TypeError whose message names the argument at fault.

Every case is (callable, exception type, regex the message must match). Type mistakes
(a list, an int dtype, a float stride) are TypeErrors; wrong values and shapes are
ValueErrors; calling backward before forward is a RuntimeError.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import course_lib as cl
from course_lib import functional as F
from course_lib import readable as R

MODS = pytest.mark.parametrize("mod", [F, R], ids=["fast", "readable"])


def a(*shape, dtype=np.float64):
    return np.ones(shape, dtype=dtype)


X = a(2, 3, 6, 6)
W = a(4, 3, 3, 3)
LOGITS = a(2, 3)


def with_value(array, value, index=(0, 0, 1, 2)):
    out = array.copy()
    out[index] = value
    return out


# ----------------------------------------------------------------------------- conv arguments
CONV_CASES = {
    # wrong ndim
    "x_3d": (dict(x=a(3, 6, 6)), ValueError, r"x must be 4-D \(N, C, H, W\), got 3-D"),
    "weight_2d": (dict(weight=a(4, 27)), ValueError, r"weight must be 4-D"),
    "bias_2d": (dict(bias=a(4, 1)), ValueError, r"bias must be 1-D"),
    # shapes that do not fit together
    "channel_mismatch": (dict(weight=a(4, 2, 3, 3)), ValueError,
                         r"weight expects 2 input channels.*x has 3 channels"),
    "bias_length": (dict(bias=a(5)), ValueError, r"bias must have shape \(4,\)"),
    # stride / padding / dilation values
    "stride_0": (dict(stride=0), ValueError, r"stride must be >= 1, got 0"),
    "stride_negative": (dict(stride=-1), ValueError, r"stride must be >= 1, got -1"),
    "stride_pair_item": (dict(stride=(1, 0)), ValueError, r"stride\[1\] must be >= 1"),
    "stride_triple": (dict(stride=(1, 1, 1)), ValueError, r"stride must be an int or a pair"),
    "stride_float": (dict(stride=1.0), TypeError, r"stride must be an int, got float"),
    "stride_bool": (dict(stride=True), TypeError, r"stride must be an int, got bool"),
    "stride_str": (dict(stride="1"), TypeError, r"stride must be an int"),
    "padding_negative": (dict(padding=-1), ValueError, r"padding must be >= 0, got -1"),
    "padding_pair_negative": (dict(padding=(0, -2)), ValueError, r"padding\[1\] must be >= 0"),
    "padding_float": (dict(padding=0.5), TypeError, r"padding must be an int, got float"),
    "padding_bool": (dict(padding=False), TypeError, r"padding must be an int, got bool"),
    "padding_unknown_str": (dict(padding="full"), ValueError,
                            r"padding must be an int, a pair, 'same' or 'valid', got 'full'"),
    "dilation_0": (dict(dilation=0), ValueError, r"dilation must be >= 1, got 0"),
    "dilation_float": (dict(dilation=2.0), TypeError, r"dilation must be an int, got float"),
    "dilation_bool": (dict(dilation=True), TypeError, r"dilation must be an int, got bool"),
    "same_with_stride": (dict(padding="same", stride=2), ValueError,
                         r"padding='same' needs stride 1"),
    # kernel larger than the (padded) input
    "kernel_too_big": (dict(weight=a(4, 3, 7, 3)), ValueError,
                       r"kernel height 7 .*larger than the padded input height 6"),
    "kernel_too_big_dilated": (dict(dilation=(1, 3)), ValueError,
                               r"kernel width 3 \(dilation 3, spanning 7\) is larger"),
    # arrays: empty, non-finite, not arrays, wrong dtypes
    "empty_batch": (dict(x=a(0, 3, 6, 6)), ValueError, r"x must not be empty"),
    "x_nan": (dict(x=with_value(X, np.nan)), ValueError,
              r"x must be finite, got nan at index \(0, 0, 1, 2\)"),
    "x_inf": (dict(x=with_value(X, -np.inf)), ValueError, r"x must be finite, got -inf"),
    "weight_inf": (dict(weight=with_value(W, np.inf)), ValueError, r"weight must be finite"),
    "bias_nan": (dict(bias=with_value(a(4), np.nan, (3,))), ValueError, r"bias must be finite"),
    "x_list": (dict(x=X.tolist()), TypeError, r"x must be a numpy.ndarray, got list"),
    "weight_scalar": (dict(weight=1.0), TypeError, r"weight must be a numpy.ndarray"),
    "x_int": (dict(x=X.astype(np.int64)), TypeError,
              r"x must have dtype float32 or float64, got int64"),
    "x_float16": (dict(x=X.astype(np.float16)), TypeError, r"x must have dtype .* got float16"),
    "weight_int": (dict(weight=W.astype(np.int32)), TypeError, r"weight must have dtype"),
    "dtype_mismatch": (dict(weight=W.astype(np.float32)), TypeError,
                       r"x is float64, weight is float32"),
    "bias_dtype_mismatch": (dict(bias=a(4, dtype=np.float32)), TypeError,
                            r"bias is float32"),
}


@MODS
@pytest.mark.parametrize("change, exc, match", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_rejects(mod, change, exc, match):
    args = dict(x=X, weight=W, bias=a(4), stride=1, padding=0, dilation=1) | change
    with pytest.raises(exc, match=match):
        mod.conv2d_forward(**args)


# ----------------------------------------------------------------------------- pool arguments
POOL_CASES = {
    "x_3d": (dict(x=a(3, 6, 6)), ValueError, r"x must be 4-D"),
    "kernel_0": (dict(kernel_size=0), ValueError, r"kernel_size must be >= 1, got 0"),
    "kernel_negative": (dict(kernel_size=-2), ValueError, r"kernel_size must be >= 1"),
    "kernel_float": (dict(kernel_size=2.0), TypeError, r"kernel_size must be an int, got float"),
    "kernel_bool": (dict(kernel_size=True), TypeError, r"kernel_size must be an int, got bool"),
    "kernel_pair_item": (dict(kernel_size=(2, 0)), ValueError, r"kernel_size\[1\] must be >= 1"),
    "stride_0": (dict(stride=0), ValueError, r"stride must be >= 1"),
    "stride_float": (dict(stride=1.5), TypeError, r"stride must be an int, got float"),
    "padding_negative": (dict(padding=-1), ValueError, r"padding must be >= 0"),
    "padding_bool": (dict(padding=True), TypeError, r"padding must be an int, got bool"),
    "padding_over_half": (dict(kernel_size=3, padding=2), ValueError,
                          r"padding must be at most half of kernel_size"),
    "padding_over_half_w": (dict(kernel_size=(4, 2), padding=(2, 2)), ValueError,
                            r"padding must be at most half of kernel_size"),
    "padding_str": (dict(padding="same"), ValueError, r"padding must be an int or a pair"),
    "kernel_too_big": (dict(kernel_size=7), ValueError, r"kernel height 7 .*larger"),
    "kernel_too_big_padded": (dict(x=a(1, 1, 2, 9), kernel_size=5, padding=1), ValueError,
                              r"kernel height 5 .*padded input height 2 \+ 1 \+ 1 = 4"),
    "empty_batch": (dict(x=a(0, 3, 6, 6)), ValueError, r"x must not be empty"),
    "empty_channels": (dict(x=a(2, 0, 6, 6)), ValueError, r"x must not be empty"),
    "x_nan": (dict(x=with_value(X, np.nan)), ValueError, r"x must be finite"),
    "x_inf": (dict(x=with_value(X, np.inf)), ValueError, r"x must be finite"),
    "x_list": (dict(x=X.tolist()), TypeError, r"x must be a numpy.ndarray"),
    "x_int": (dict(x=X.astype(np.uint8)), TypeError, r"x must have dtype .* got uint8"),
}


@MODS
@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("change, exc, match", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pool2d_rejects(mod, op, change, exc, match):
    args = dict(x=X, kernel_size=2, stride=None, padding=0) | change
    with pytest.raises(exc, match=match):
        getattr(mod, f"{op}_pool2d_forward")(**args)


# ----------------------------------------------------------------------------- other functional
OTHER_CASES = {
    "linear_x_3d": (lambda: F.linear(a(2, 3, 4), a(5, 4)), ValueError, r"x must be 2-D"),
    "linear_weight_1d": (lambda: F.linear(a(2, 4), a(4)), ValueError, r"weight must be 2-D"),
    "linear_features": (lambda: F.linear(a(2, 4), a(5, 3)), ValueError,
                        r"weight expects 3 input features.*x has 4"),
    "linear_bias": (lambda: F.linear(a(2, 4), a(5, 4), a(4)), ValueError,
                    r"bias must have shape \(5,\)"),
    "linear_dtype": (lambda: F.linear(a(2, 4, dtype=np.float32), a(5, 4)), TypeError,
                     r"x is float32, weight is float64"),
    "linear_int": (lambda: F.linear(a(2, 4, dtype=np.int64), a(5, 4)), TypeError,
                   r"x must have dtype"),
    "linear_empty": (lambda: F.linear(a(0, 4), a(5, 4)), ValueError, r"x must not be empty"),
    "relu_list": (lambda: F.relu([1.0, -1.0]), TypeError, r"x must be a numpy.ndarray"),
    "relu_nan": (lambda: F.relu(np.array([np.nan])), ValueError, r"x must be finite"),
    "softmax_int": (lambda: F.softmax(np.arange(3)), TypeError, r"z must have dtype"),
    "softmax_inf": (lambda: F.softmax(np.array([0.0, np.inf])), ValueError, r"z must be finite"),
    "log_softmax_nan": (lambda: F.log_softmax(np.array([np.nan, 0.0])), ValueError,
                        r"z must be finite"),
    "ce_logits_1d": (lambda: F.cross_entropy(a(3), np.array([0])), ValueError,
                     r"logits must be 2-D \(N, num_classes\)"),
    "ce_logits_nan": (lambda: F.cross_entropy(with_value(LOGITS, np.nan, (1, 1)),
                                              np.array([0, 1])), ValueError,
                      r"logits must be finite"),
    "ce_empty_batch": (lambda: F.cross_entropy(a(0, 3), np.zeros(0, int)), ValueError,
                       r"logits must not be empty"),
    "labels_too_big": (lambda: F.cross_entropy(LOGITS, np.array([0, 3])), ValueError,
                       r"target must be in \[0, 3\), got 3"),
    "labels_negative": (lambda: F.cross_entropy(LOGITS, np.array([-1, 0])), ValueError,
                        r"target must be in \[0, 3\), got -1"),
    "labels_float": (lambda: F.cross_entropy(LOGITS, np.array([0.0, 1.0])), TypeError,
                     r"target must hold integer class indices, got dtype float64"),
    "labels_bool": (lambda: F.cross_entropy(LOGITS, np.array([True, False])), TypeError,
                    r"target must hold integer class indices, got dtype bool"),
    "labels_2d": (lambda: F.cross_entropy(LOGITS, np.array([[0], [1]])), ValueError,
                  r"target must have shape \(2,\) to match the batch, got \(2, 1\)"),
    "labels_length": (lambda: F.cross_entropy(LOGITS, np.array([0, 1, 2])), ValueError,
                      r"target must have shape \(2,\)"),
    "labels_list": (lambda: F.cross_entropy(LOGITS, [0, 1]), TypeError,
                    r"target must be a numpy.ndarray"),
    "bn_weight_shape": (lambda: F.batch_norm2d_forward(X, a(2), a(3)), ValueError,
                        r"weight must have shape \(3,\) to match x's channels"),
    "bn_running_shape": (lambda: F.batch_norm2d_forward(X, a(3), a(3), a(4), a(3)), ValueError,
                         r"running_mean must have shape \(3,\)"),
    "bn_weight_none": (lambda: F.batch_norm2d_forward(X, None, a(3)), TypeError,
                       r"weight must be an array"),
    "bn_dtype": (lambda: F.batch_norm2d_forward(X, a(3, dtype=np.float32), a(3)), TypeError,
                 r"weight is float32"),
    "bn_one_value": (lambda: F.batch_norm2d_forward(a(1, 3, 1, 1), a(3), a(3)), ValueError,
                     r"training mode needs more than 1 value per channel"),
    "bn_eval_no_stats": (lambda: F.batch_norm2d_forward(X, a(3), a(3), training=False),
                         ValueError, r"eval mode needs running_mean and running_var"),
    "dropout_p_big": (lambda: F.dropout_forward(X, 1.5, rng=0), ValueError,
                      r"p must be in \[0, 1\], got 1.5"),
    "dropout_p_str": (lambda: F.dropout_forward(X, "0.5", rng=0), TypeError,
                      r"p must be a float in \[0, 1\]"),
    "dropout_rng_float": (lambda: F.dropout_forward(X, 0.5, rng=1.5), TypeError,
                          r"rng must be an int seed, a numpy.random.Generator or None"),
    "pad2d_same": (lambda: F.pad2d(X, "same"), ValueError, r"padding must be an int, a pair"),
    "pad2d_triple": (lambda: F.pad2d(X, (1, 2, 3)), ValueError, r"padding must be an int or"),
    "conv_output_size": (lambda: F.conv_output_size(4, 5), ValueError,
                         r"kernel_size 5 .*larger than the padded input"),
}


@pytest.mark.parametrize("call, exc, match", OTHER_CASES.values(), ids=OTHER_CASES.keys())
def test_functional_rejects(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- dout checks
def _forward_backward_pairs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    return {
        "conv": (F.conv2d_forward(x, w, a(4)), F.conv2d_backward),
        "conv_readable": (R.conv2d_forward(x, w, a(4)), R.conv2d_backward),
        "maxpool": (F.max_pool2d_forward(x, 2), F.max_pool2d_backward),
        "maxpool_readable": (R.max_pool2d_forward(x, 2), R.max_pool2d_backward),
        "avgpool": (F.avg_pool2d_forward(x, 2), F.avg_pool2d_backward),
        "avgpool_readable": (R.avg_pool2d_forward(x, 2), R.avg_pool2d_backward),
        "relu": (F.relu_forward(x), F.relu_backward),
        "linear": (F.linear_forward(x[:, :, 0, 0], w[:, :, 0, 0]), F.linear_backward),
        "softmax": (F.softmax_forward(x), F.softmax_backward),
        "log_softmax": (F.log_softmax_forward(x), F.log_softmax_backward),
        "batch_norm": (F.batch_norm2d_forward(x, a(3), a(3)), F.batch_norm2d_backward),
        "dropout": (F.dropout_forward(x, 0.5, rng=0), F.dropout_backward),
        "dropout_eval": (F.dropout_forward(x, 0.5, rng=0, training=False), F.dropout_backward),
        "dropout_p0": (F.dropout_forward(x, 0.0, rng=0), F.dropout_backward),
    }


PAIRS = _forward_backward_pairs()


@pytest.mark.parametrize("name", PAIRS.keys())
def test_backward_rejects_dout_of_wrong_shape_or_dtype(name):
    (out, cache), backward = PAIRS[name]
    wrong = np.ones(out.shape[:-1] + (out.shape[-1] + 1,))
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape"):
        backward(wrong, cache)
    with pytest.raises(ValueError, match=r"dout must .*shape"):
        backward(np.ones(out.size), cache)
    with pytest.raises(TypeError, match=r"dout must be a numpy.ndarray"):
        backward(out.tolist(), cache)
    with pytest.raises(TypeError, match=r"dout must have the forward output's dtype"):
        backward(np.ones_like(out, dtype=np.float32), cache)


def test_cross_entropy_backward_rejects_bad_dout_and_cache():
    _, cache = F.cross_entropy_forward(LOGITS, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"dout must be a scalar"):
        F.cross_entropy_backward(np.ones((2, 3)), cache)
    with pytest.raises(TypeError, match=r"dout must be a scalar"):
        F.cross_entropy_backward(True, cache)
    with pytest.raises(ValueError, match=r"cache must be the cache"):
        F.cross_entropy_backward(1.0)


# ----------------------------------------------------------------------------- layers
def _forwarded(layer, x):
    layer(x)
    return layer


LAYER_DOUT_CASES = {
    "conv": lambda: _forwarded(cl.Conv2d(3, 4, 3, dtype=np.float64, rng=0), X),
    "linear": lambda: _forwarded(cl.Linear(3, 2, dtype=np.float64, rng=0), a(4, 3)),
    "maxpool": lambda: _forwarded(cl.MaxPool2d(2), X),
    "avgpool": lambda: _forwarded(cl.AvgPool2d(2), X),
    "relu": lambda: _forwarded(cl.ReLU(), X),
    "batchnorm": lambda: _forwarded(cl.BatchNorm2d(3, dtype=np.float64), X),
    "dropout_train": lambda: _forwarded(cl.Dropout(0.5, rng=0), X),
    "dropout_eval": lambda: _forwarded(cl.Dropout(0.5, rng=0).eval(), X),
    "flatten": lambda: _forwarded(cl.Flatten(), X),
    "flatten_same_size": lambda: _forwarded(cl.Flatten(), a(2, 3, 6, 6)),
}


@pytest.mark.parametrize("name", LAYER_DOUT_CASES.keys())
def test_layer_backward_rejects_dout_of_wrong_shape(name):
    layer = LAYER_DOUT_CASES[name]()
    out_shape = layer.forward(X if name != "linear" else a(4, 3)).shape
    if name == "flatten_same_size":  # right number of entries, wrong shape: (N*D,) or (D, N)
        wrong = a(*out_shape[::-1])
    else:
        wrong = a(*out_shape[:-1], out_shape[-1] + 1)
    with pytest.raises(ValueError, match=r"dout"):
        layer.backward(wrong)


LAYERS_BEFORE_FORWARD = {
    "conv": lambda: cl.Conv2d(1, 1, 1), "linear": lambda: cl.Linear(1, 1),
    "maxpool": lambda: cl.MaxPool2d(2), "avgpool": lambda: cl.AvgPool2d(2),
    "relu": cl.ReLU, "flatten": cl.Flatten, "dropout": cl.Dropout,
    "batchnorm": lambda: cl.BatchNorm2d(1),
    "sequential": lambda: cl.Sequential(cl.Linear(1, 1), cl.ReLU()),
}


@pytest.mark.parametrize("make", LAYERS_BEFORE_FORWARD.values(), ids=LAYERS_BEFORE_FORWARD.keys())
def test_backward_before_forward(make):
    with pytest.raises(RuntimeError, match=r"backward called before forward"):
        make().backward(a(1, 1, 1, 1))


def test_loss_backward_before_forward():
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss.backward called before forward"):
        cl.CrossEntropyLoss().backward()


CONSTRUCTOR_CASES = {
    "conv_in_channels_0": (lambda: cl.Conv2d(0, 4, 3), ValueError, r"in_channels must be >= 1"),
    "conv_out_channels_float": (lambda: cl.Conv2d(1, 4.0, 3), TypeError,
                                r"out_channels must be an int, got float"),
    "conv_kernel_0": (lambda: cl.Conv2d(1, 4, 0), ValueError, r"kernel_size must be >= 1"),
    "conv_kernel_bool": (lambda: cl.Conv2d(1, 4, True), TypeError,
                         r"kernel_size must be an int, got bool"),
    "conv_stride_0": (lambda: cl.Conv2d(1, 4, 3, stride=0), ValueError, r"stride must be >= 1"),
    "conv_padding_neg": (lambda: cl.Conv2d(1, 4, 3, padding=-1), ValueError,
                         r"padding must be >= 0"),
    "conv_padding_str": (lambda: cl.Conv2d(1, 4, 3, padding="full"), ValueError,
                         r"padding must be an int, a pair, 'same' or 'valid'"),
    "conv_dilation_float": (lambda: cl.Conv2d(1, 4, 3, dilation=1.0), TypeError,
                            r"dilation must be an int"),
    "conv_dtype_int": (lambda: cl.Conv2d(1, 4, 3, dtype=np.int32), TypeError,
                       r"dtype must be float32 or float64, got int32"),
    "conv_dtype_str": (lambda: cl.Conv2d(1, 4, 3, dtype="float16"), TypeError,
                       r"dtype must be float32 or float64, got float16"),
    "conv_dtype_nonsense": (lambda: cl.Conv2d(1, 4, 3, dtype="banana"), TypeError,
                            r"dtype must be float32 or float64, got 'banana'"),
    "conv_rng_float": (lambda: cl.Conv2d(1, 4, 3, rng=0.5), TypeError,
                       r"rng must be an int seed, a numpy.random.Generator or None"),
    "conv_rng_str": (lambda: cl.Conv2d(1, 4, 3, rng="0"), TypeError, r"rng must be an int seed"),
    "conv_rng_bool": (lambda: cl.Conv2d(1, 4, 3, rng=True), TypeError, r"rng must be an int"),
    "conv_rng_negative": (lambda: cl.Conv2d(1, 4, 3, rng=-1), ValueError, r"rng must be >= 0"),
    "conv_rng_legacy": (lambda: cl.Conv2d(1, 4, 3, rng=np.random.RandomState(0)), TypeError,
                        r"rng must be an int seed, a numpy.random.Generator"),
    "linear_in_0": (lambda: cl.Linear(0, 3), ValueError, r"in_features must be >= 1"),
    "linear_out_str": (lambda: cl.Linear(3, "3"), TypeError, r"out_features must be an int"),
    "linear_dtype": (lambda: cl.Linear(3, 3, dtype=np.complex128), TypeError,
                     r"dtype must be float32 or float64"),
    "linear_rng": (lambda: cl.Linear(3, 3, rng=[1, 2]), TypeError, r"rng must be an int seed"),
    "bn_features_0": (lambda: cl.BatchNorm2d(0), ValueError, r"num_features must be >= 1"),
    "bn_dtype": (lambda: cl.BatchNorm2d(3, dtype=np.int64), TypeError,
                 r"dtype must be float32 or float64"),
    "dropout_p": (lambda: cl.Dropout(-0.1), ValueError, r"p must be in \[0, 1\]"),
    "dropout_p_none": (lambda: cl.Dropout(None), TypeError, r"p must be a float"),
    "dropout_rng": (lambda: cl.Dropout(0.5, rng=2.0), TypeError, r"rng must be an int seed"),
    "pool_kernel_0": (lambda: cl.MaxPool2d(0), ValueError, r"kernel_size must be >= 1"),
    "pool_stride_float": (lambda: cl.AvgPool2d(2, stride=2.0), TypeError,
                          r"stride must be an int"),
    "pool_padding_neg": (lambda: cl.MaxPool2d(2, padding=-1), ValueError,
                         r"padding must be >= 0"),
    # combinations are rejected when the layer is built, not at its first forward
    "conv_same_stride": (lambda: cl.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError,
                         r"padding='same' needs stride 1"),
    "conv_same_stride_pair": (lambda: cl.Conv2d(3, 4, 3, stride=(1, 2), padding="same"),
                              ValueError, r"padding='same' needs stride 1"),
    "maxpool_padding_over_half": (lambda: cl.MaxPool2d(2, padding=2), ValueError,
                                  r"padding must be at most half of kernel_size"),
    "avgpool_padding_over_half": (lambda: cl.AvgPool2d((4, 2), padding=(1, 2)), ValueError,
                                  r"padding must be at most half of kernel_size"),
    "pool_padding_str": (lambda: cl.MaxPool2d(2, padding="same"), ValueError,
                         r"padding must be an int or a pair for pooling"),
    "astype_int": (lambda: cl.Linear(2, 2).astype(np.int64), TypeError,
                   r"dtype must be float32 or float64, got int64"),
    "sequential_astype": (lambda: cl.Sequential(cl.ReLU()).astype("int8"), TypeError,
                          r"dtype must be float32 or float64"),
    "sequential_non_layer": (lambda: cl.Sequential(cl.Linear(2, 2), "relu"), TypeError,
                             r"layer 1 must be a course_lib Layer, got str"),
    "sequential_class_not_instance": (lambda: cl.Sequential(cl.ReLU), TypeError,
                                      r"layer 0 must be a course_lib Layer, got type"),
    "sequential_loss": (lambda: cl.Sequential(cl.Linear(2, 2), cl.CrossEntropyLoss()),
                        TypeError, r"layer 1 must be a course_lib Layer, got CrossEntropyLoss"),
}


@pytest.mark.parametrize("call, exc, match", CONSTRUCTOR_CASES.values(),
                         ids=CONSTRUCTOR_CASES.keys())
def test_layer_constructors_reject(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


LAYER_FORWARD_CASES = {
    "conv_channels": (lambda: cl.Conv2d(2, 4, 3, dtype=np.float64)(X), ValueError,
                      r"weight expects 2 input channels.*x has 3"),
    "conv_dtype": (lambda: cl.Conv2d(3, 4, 3)(X), TypeError, r"x is float64, weight is float32"),
    "linear_ndim": (lambda: cl.Linear(3, 2, dtype=np.float64)(X), ValueError, r"x must be 2-D"),
    "bn_channels": (lambda: cl.BatchNorm2d(4, dtype=np.float64)(X), ValueError,
                    r"weight must have shape \(4,\)|x's channels"),
    "flatten_1d": (lambda: cl.Flatten()(a(3)), ValueError, r"x must have a batch axis"),
    "flatten_list": (lambda: cl.Flatten()([[1.0]]), TypeError, r"x must be a numpy.ndarray"),
    "sequential_nan": (lambda: cl.Sequential(cl.ReLU())(with_value(X, np.nan)), ValueError,
                       r"x must be finite"),
    "loss_labels": (lambda: cl.CrossEntropyLoss()(LOGITS, np.array([0, 5])), ValueError,
                    r"target must be in \[0, 3\)"),
}


@pytest.mark.parametrize("call, exc, match", LAYER_FORWARD_CASES.values(),
                         ids=LAYER_FORWARD_CASES.keys())
def test_layer_forward_rejects(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- state dicts
def _model():
    return cl.Sequential(cl.Conv2d(1, 2, 3, rng=0), cl.BatchNorm2d(2), cl.ReLU(), cl.Flatten(),
                         cl.Linear(8, 3, rng=1))


def test_load_state_dict_rejects_missing_and_unexpected_keys():
    model = _model()
    state = model.state_dict()
    del state["0.bias"]
    with pytest.raises(ValueError, match=r"missing \['0.bias'\], unexpected \[\]"):
        model.load_state_dict(state)
    state = model.state_dict() | {"5.weight": a(2)}
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['5.weight'\]"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["conv.weight"] = state.pop("0.weight")  # a renamed key: both lists name it
    with pytest.raises(ValueError, match=r"missing \['0.weight'\], unexpected \['conv.weight'\]"):
        model.load_state_dict(state)


def test_load_state_dict_rejects_wrong_shapes():
    model = _model()
    state = model.state_dict()
    state["4.weight"] = a(3, 9)
    with pytest.raises(ValueError, match=r"state\['4.weight'\] must have shape \(3, 8\), "
                                         r"got \(3, 9\)"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["1.running_var"] = a(3)
    with pytest.raises(ValueError, match=r"state\['1.running_var'\] must have shape \(2,\)"):
        model.load_state_dict(state)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_load_state_dict_rejects_non_finite_values(bad):
    model = _model()
    before = model.state_dict()
    state = model.state_dict()
    state["4.bias"][1] = bad
    with pytest.raises(ValueError, match=r"state\['4.bias'\] must be finite"):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model.params["4.bias"], before["4.bias"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("contiguous", [True, False])
def test_finite_check_survives_overflowing_sums_and_finds_the_bad_entry(dtype, contiguous):
    from course_lib.validate import check_array
    big = np.full((4, 6), np.finfo(dtype).max / 2, dtype=dtype)  # its sums overflow to inf
    view = big if contiguous else big[:, ::2]
    assert check_array(view, "x") is view  # large but finite: accepted
    for bad in (np.nan, np.inf, -np.inf):
        array = big.copy()
        array[2, 4] = bad
        view = array if contiguous else array[:, ::2]
        index = "(2, 4)" if contiguous else "(2, 2)"
        message = f"x must be finite, got {bad} at index {index}"
        with pytest.raises(ValueError, match=re.escape(message)):
            check_array(view, "x")
