"""Forward and backward of every op and layer match PyTorch to 1e-10 (relative) in float64.

Skipped when PyTorch is not installed (it is optional; CI installs it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import (
    CONV_VERSIONS,
    assert_close,
    assert_steps_match_torch,
    conv_version,
    copy_params_to_torch,
    distinct,
)

import course_lib as cl
from course_lib import fast_pool
from course_lib import functional as F
from course_lib import readable as R

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.torch

TOL = 1e-10


def T(array, grad=True):
    """A float64 leaf tensor with its own copy of ``array``."""
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


def close(ours, theirs, what=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert_close(ours, theirs, TOL, what)


# ----------------------------------------------------------------------------- conv2d
CONV_CASES = {
    "plain": dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3)),
    "no_bias": dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3), bias=False),
    "stride": dict(x=(2, 2, 9, 8), w=(3, 2, 3, 2), stride=2),
    "stride_pair": dict(x=(1, 2, 9, 10), w=(3, 2, 2, 3), stride=(3, 2)),
    "padding": dict(x=(2, 2, 5, 6), w=(3, 2, 3, 3), padding=1),
    "padding_pair": dict(x=(2, 2, 5, 6), w=(3, 2, 3, 3), padding=(2, 0), stride=(1, 2)),
    "same_odd": dict(x=(2, 2, 6, 5), w=(3, 2, 3, 5), padding="same"),
    "same_even": dict(x=(2, 2, 6, 5), w=(3, 2, 2, 4), padding="same"),
    "same_even_dilated": dict(x=(1, 2, 7, 6), w=(3, 2, 4, 2), padding="same", dilation=(2, 3)),
    "valid": dict(x=(2, 2, 6, 5), w=(3, 2, 2, 2), padding="valid"),
    "dilation": dict(x=(2, 2, 9, 8), w=(3, 2, 3, 2), dilation=2),
    "everything": dict(x=(2, 3, 11, 9), w=(2, 3, 3, 2), stride=(2, 3), padding=(1, 2),
                       dilation=(2, 1)),
    "1x1": dict(x=(3, 4, 3, 5), w=(2, 4, 1, 1)),
}


@pytest.mark.parametrize("version", CONV_VERSIONS)
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_matches_torch(version, case, rng):
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0]) if case.get("bias", True) else None
    kw = dict(stride=case.get("stride", 1), padding=case.get("padding", 0),
              dilation=case.get("dilation", 1))
    tx, tw, tb = T(x), T(w), (T(b) if b is not None else None)
    with warnings.catch_warnings():  # torch's note that even 'same' kernels copy the input
        warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
        tout = TF.conv2d(tx, tw, tb, **kw)
    dout = rng.standard_normal(tout.shape)
    tout.backward(torch.from_numpy(dout))
    with conv_version(version) as mod:
        out, cache = mod.conv2d_forward(x, w, b, **kw)
        dx, dw, db = mod.conv2d_backward(dout, cache)
    close(out, tout, "forward")
    close(dx, tx.grad, "dx")
    close(dw, tw.grad, "dweight")
    if b is None:
        assert db is None
    else:
        close(db, tb.grad, "dbias")


# ----------------------------------------------------------------------------- pooling
POOL_CASES = {
    "k2": dict(x=(2, 3, 6, 8), kernel_size=2),
    "k3_s1": dict(x=(1, 2, 6, 5), kernel_size=3, stride=1),
    "k3_s2_pad1": dict(x=(2, 2, 7, 7), kernel_size=3, stride=2, padding=1),
    "k2_pad1": dict(x=(1, 2, 5, 6), kernel_size=2, padding=1),
    "pairs": dict(x=(2, 1, 7, 9), kernel_size=(3, 2), stride=(2, 3), padding=(1, 1)),
    "gapped": dict(x=(1, 2, 8, 8), kernel_size=2, stride=3),
}


@pytest.mark.parametrize("mod", [F, R], ids=["fast", "readable"])
@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pool2d_matches_torch(mod, op, case, rng):
    x = distinct(rng, case["x"])
    kw = dict(kernel_size=case["kernel_size"], stride=case.get("stride"),
              padding=case.get("padding", 0))
    out, cache = getattr(mod, f"{op}_pool2d_forward")(x, **kw)
    tx = T(x)
    tout = getattr(TF, f"{op}_pool2d")(tx, **kw)  # avg: count_include_pad=True by default
    close(out, tout, "forward")
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.from_numpy(dout))
    close(getattr(mod, f"{op}_pool2d_backward")(dout, cache), tx.grad, "dx")


TIE_INPUTS = {
    "constant": (np.full((1, 2, 4, 6), 1.5), dict(kernel_size=2)),
    "constant_overlap_pad": (np.zeros((1, 1, 5, 5)), dict(kernel_size=3, stride=1, padding=1)),
    "crafted": (np.array([[[[0, 7, 1, 9], [7, 2, 9, 9], [5, 5, 4, 6], [3, 5, 6, 6]]]],
                         dtype=np.float64), dict(kernel_size=2)),
    "integers_overlap": (np.random.default_rng(0).integers(0, 3, (2, 2, 7, 6)).astype(float),
                         dict(kernel_size=3, stride=2, padding=1)),
    "integers_pairs": (np.random.default_rng(1).integers(0, 2, (1, 3, 6, 7)).astype(float),
                       dict(kernel_size=(2, 3), stride=(1, 2))),
}


@pytest.mark.parametrize("mod", [F, R, fast_pool], ids=["fast", "readable", "fast_pool"])
@pytest.mark.parametrize("x, kw", TIE_INPUTS.values(), ids=TIE_INPUTS.keys())
def test_max_pool_ties_match_torch(mod, x, kw, rng):
    out, cache = mod.max_pool2d_forward(x, **kw)
    tx = T(x)
    tout = TF.max_pool2d(tx, **kw)
    close(out, tout)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.from_numpy(dout))
    dx = mod.max_pool2d_backward(dout, cache)
    # the same cells receive gradient (overlapping windows may sum in another order)
    np.testing.assert_array_equal(dx != 0, tx.grad.numpy() != 0)
    close(dx, tx.grad)


# ----------------------------------------------------------------------------- dense ops
def _compare_unary(ours_fwd, ours_bwd, torch_fn, z, rng):
    out, cache = ours_fwd(z)
    tz = T(z)
    tout = torch_fn(tz)
    close(out, tout, "forward")
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.from_numpy(dout))
    close(ours_bwd(dout, cache), tz.grad, "backward")


def test_relu_matches_torch(rng):
    x = rng.standard_normal((3, 2, 4, 4))
    x[0, 0, 0, :2] = 0.0  # the gradient at exactly 0 is 0 in both
    _compare_unary(F.relu_forward, F.relu_backward, TF.relu, x, rng)


@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_family_matches_torch(op, dim, rng):
    z = rng.standard_normal((4, 5, 3)) * 3
    _compare_unary(lambda v: getattr(F, f"{op}_forward")(v, axis=dim),
                   getattr(F, f"{op}_backward"),
                   lambda t: getattr(TF, op)(t, dim=dim), z, rng)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias, rng):
    x, w = rng.standard_normal((5, 7)), rng.standard_normal((3, 7))
    b = rng.standard_normal(3) if bias else None
    out, cache = F.linear_forward(x, w, b)
    tx, tw, tb = T(x), T(w), (T(b) if bias else None)
    tout = TF.linear(tx, tw, tb)
    close(out, tout)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.from_numpy(dout))
    dx, dw, db = F.linear_backward(dout, cache)
    close(dx, tx.grad)
    close(dw, tw.grad)
    if bias:
        close(db, tb.grad)


@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_cross_entropy_matches_torch(scale, rng):
    z, y = rng.standard_normal((6, 5)) * scale, np.array([0, 4, 2, 2, 1, 3])
    loss, cache = F.cross_entropy_forward(z, y)
    tz = T(z)
    tloss = TF.cross_entropy(tz, torch.from_numpy(y))
    assert loss == pytest.approx(tloss.item(), rel=TOL)
    (tloss * 1.7).backward()
    close(F.cross_entropy_backward(1.7, cache), tz.grad)


# ----------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_matches_torch(training, rng):
    x = rng.standard_normal((4, 3, 5, 2)) * 2 + 1
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    out, cache = F.batch_norm2d_forward(x, w, b, rm, rv, training=training, momentum=0.1,
                                        eps=1e-5)
    tx, tw, tb = T(x), T(w), T(b)
    tout = TF.batch_norm(tx, t_rm, t_rv, tw, tb, training=training, momentum=0.1, eps=1e-5)
    close(out, tout, "forward")
    close(rm, t_rm, "running_mean")
    close(rv, t_rv, "running_var")
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.from_numpy(dout))
    dx, dw, db = F.batch_norm2d_backward(dout, cache)
    close(dx, tx.grad, "dx")
    close(dw, tw.grad, "dgamma")
    close(db, tb.grad, "dbeta")


# ----------------------------------------------------------------------------- layers
def _compare_layer(ours, theirs, x, rng, steps=1):
    """Forward + backward ``steps`` times (BatchNorm's running stats move), then compare."""
    theirs = theirs.double()
    copy_params_to_torch(ours, theirs)
    for _ in range(steps):
        out = ours(x)
        tx = T(x)
        theirs.zero_grad()
        tout = theirs(tx)
        close(out, tout, "forward")
        dout = rng.standard_normal(out.shape)
        tout.backward(torch.from_numpy(dout))
        close(ours.backward(dout), tx.grad, "dx")
        for k, p in theirs.named_parameters():
            close(ours.grads[k], p.grad, "d" + k)
        for k, buf in theirs.named_buffers():
            if k in ours.buffers:
                close(ours.buffers[k], buf, k)
        x = x + 0.5 * rng.standard_normal(x.shape)


LAYER_PAIRS = {
    "conv": (lambda: cl.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=1, dtype=np.float64, rng=0),
             lambda: torch.nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=1)),
    "conv_same_no_bias": (lambda: cl.Conv2d(3, 2, 4, padding="same", dilation=2, bias=False,
                                            dtype=np.float64, rng=0),
                          lambda: torch.nn.Conv2d(3, 2, 4, padding="same", dilation=2,
                                                  bias=False)),
    "maxpool": (lambda: cl.MaxPool2d(3, stride=2, padding=1),
                lambda: torch.nn.MaxPool2d(3, stride=2, padding=1)),
    "avgpool": (lambda: cl.AvgPool2d(2, padding=1), lambda: torch.nn.AvgPool2d(2, padding=1)),
    "relu": (cl.ReLU, torch.nn.ReLU),
    "flatten": (cl.Flatten, torch.nn.Flatten),
    "batchnorm_train": (lambda: cl.BatchNorm2d(3, momentum=0.3, dtype=np.float64),
                        lambda: torch.nn.BatchNorm2d(3, momentum=0.3)),
    "batchnorm_eval": (lambda: cl.BatchNorm2d(3, dtype=np.float64).eval(),
                       lambda: torch.nn.BatchNorm2d(3).eval()),
    "dropout_eval": (lambda: cl.Dropout(0.5, rng=0).eval(), lambda: torch.nn.Dropout(0.5).eval()),
}


@pytest.mark.parametrize("ours, theirs", LAYER_PAIRS.values(), ids=LAYER_PAIRS.keys())
def test_layer_matches_torch(ours, theirs, rng):
    layer = ours()
    if "running_mean" in layer.buffers:  # non-trivial statistics and affine parameters
        layer.buffers["running_mean"][:] = rng.standard_normal(3)
        layer.buffers["running_var"][:] = rng.random(3) + 0.5
        layer.params["weight"][:] = rng.standard_normal(3)
        layer.params["bias"][:] = rng.standard_normal(3)
    _compare_layer(layer, theirs(), distinct(rng, (2, 3, 6, 5)), rng, steps=3)


def test_linear_layer_matches_torch(rng):
    layer = cl.Linear(6, 4, dtype=np.float64, rng=0)
    layer.params["bias"][:] = rng.standard_normal(4)
    _compare_layer(layer, torch.nn.Linear(6, 4), rng.standard_normal((5, 6)), rng)


# ----------------------------------------------------------------------------- a whole model
def lenet_pair(p_drop):
    ours = cl.Sequential(
        # no bias before batch norm: its gradient is exactly 0, i.e. pure round-off noise
        cl.Conv2d(1, 6, 5, padding=2, bias=False, dtype=np.float64, rng=0),
        cl.BatchNorm2d(6, dtype=np.float64),
        cl.ReLU(),
        cl.MaxPool2d(2),
        cl.Conv2d(6, 16, 5, dtype=np.float64, rng=1),
        cl.ReLU(),
        cl.AvgPool2d(2),
        cl.Flatten(),
        cl.Linear(16 * 5 * 5, 120, dtype=np.float64, rng=2),
        cl.ReLU(),
        cl.Dropout(p_drop, rng=3),
        cl.Linear(120, 84, dtype=np.float64, rng=4),
        cl.ReLU(),
        cl.Linear(84, 10, dtype=np.float64, rng=5),
    )
    nn = torch.nn
    theirs = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Dropout(p_drop), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    ).double()
    return ours, theirs


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_lenet_matches_torch(mode, rng):
    """Logits, loss, every parameter gradient and the BN running stats, over two steps.

    In training mode dropout is drawn differently by the two libraries, so it runs with
    p = 0 there; in eval mode (p = 0.5) it is the identity in both.
    """
    ours, theirs = lenet_pair(0.0 if mode == "train" else 0.5)
    for k, p in ours.params.items():
        if k.endswith("bias"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    ours.buffers["1.running_var"][:] = rng.random(6) + 0.5
    copy_params_to_torch(ours, theirs)
    assert {k for k, _ in theirs.named_parameters()} == ours.params.keys()
    ours.train(mode == "train")
    theirs.train(mode == "train")
    assert_steps_match_torch(ours, theirs, rng, TOL)
