"""Layers and Sequential: parameters, initialisation, dtypes, train/eval modes, state dicts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import assert_close, split_work

import course_lib as cl
import course_lib.fast_conv
from course_lib import functional as F
from course_lib import parallel
from course_lib.workspace import Workspace


def lenet(dtype=np.float32, rng=0, p=0.25):
    return cl.Sequential(
        cl.Conv2d(1, 4, 3, padding=1, dtype=dtype, rng=rng),
        cl.BatchNorm2d(4, dtype=dtype),
        cl.ReLU(),
        cl.MaxPool2d(2),
        cl.Conv2d(4, 6, 3, dtype=dtype, rng=rng + 1),
        cl.ReLU(),
        cl.AvgPool2d(2),
        cl.Flatten(),
        cl.Dropout(p, rng=rng + 2),
        cl.Linear(6, 3, dtype=dtype, rng=rng + 3),
    )


def make_layers(dtype=np.float64):
    return {
        "conv": cl.Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=0),
        "conv_no_bias": cl.Conv2d(2, 3, (1, 2), bias=False, dtype=dtype, rng=0),
        "linear": cl.Linear(2 * 4 * 4, 5, dtype=dtype, rng=0),
        "batchnorm": cl.BatchNorm2d(2, dtype=dtype),
        "maxpool": cl.MaxPool2d(2),
        "avgpool": cl.AvgPool2d(2, stride=1),
        "relu": cl.ReLU(),
        "flatten": cl.Flatten(),
        "dropout": cl.Dropout(0.5, rng=0),
    }


def _input_for(name, dtype, rng):
    shape = (3, 32) if name == "linear" else (3, 2, 4, 4)
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- params & grads
@pytest.mark.parametrize("name", make_layers().keys())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_forward_backward_dtypes_shapes_and_grad_keys(name, dtype, rng):
    layer = make_layers(dtype)[name]
    x = _input_for(name, dtype, rng)
    out = layer(x)
    assert out.dtype == dtype
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.dtype == dtype
    assert layer.grads.keys() == layer.params.keys()
    for k, p in layer.params.items():
        assert layer.grads[k].shape == p.shape and layer.grads[k].dtype == dtype


def test_weight_shapes_like_pytorch():
    conv = cl.Conv2d(3, 8, (5, 3))
    assert conv.params["weight"].shape == (8, 3, 5, 3) and conv.params["bias"].shape == (8,)
    assert cl.Conv2d(3, 8, 3, bias=False).params.keys() == {"weight"}
    lin = cl.Linear(20, 10)
    assert lin.params["weight"].shape == (10, 20) and lin.params["bias"].shape == (10,)
    bn = cl.BatchNorm2d(6)
    assert bn.params["weight"].shape == bn.params["bias"].shape == (6,)
    np.testing.assert_array_equal(bn.params["weight"], 1.0)
    np.testing.assert_array_equal(bn.params["bias"], 0.0)
    assert bn.buffers.keys() == {"running_mean", "running_var"}
    for layer in (cl.ReLU(), cl.Flatten(), cl.MaxPool2d(2), cl.AvgPool2d(2), cl.Dropout()):
        assert layer.params == {}
    # default dtype is float32, like PyTorch
    assert conv.params["weight"].dtype == lin.params["weight"].dtype == np.float32


def test_layer_arguments_normalised_like_pytorch():
    conv = cl.Conv2d(1, 1, 3, stride=2, padding=(1, 0), dilation=2)
    assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation) == (
        (3, 3), (2, 2), (1, 0), (2, 2))
    assert cl.MaxPool2d(3).stride == (3, 3)
    assert cl.MaxPool2d(3, stride=1, padding=1).stride == (1, 1)
    assert "kernel_size=(3, 3)" in repr(cl.MaxPool2d(3))
    assert "Conv2d(1, 1" in repr(conv)


def test_grads_overwrite_not_accumulate(rng):
    layer = cl.Linear(3, 2, dtype=np.float64, rng=0)
    x = rng.standard_normal((4, 3))
    layer.backward(np.ones_like(layer(x)))
    first = {k: g.copy() for k, g in layer.grads.items()}
    layer.backward(np.ones_like(layer(x)))
    for k in first:
        np.testing.assert_array_equal(layer.grads[k], first[k])
    layer.zero_grad()
    assert layer.grads.keys() == layer.params.keys()
    assert all(not g.any() for g in layer.grads.values())


# ----------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("make", [lambda s: cl.Conv2d(3, 4, 3, rng=s),
                                  lambda s: cl.Linear(10, 5, rng=s)], ids=["conv", "linear"])
def test_seeded_init_is_reproducible(make):
    a, b, c = make(0), make(0), make(1)
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    assert not np.array_equal(a.params["weight"], c.params["weight"])
    # a Generator works too, and advances (two layers from one generator differ)
    gen = np.random.default_rng(5)
    d, e = make(gen), make(gen)
    assert not np.array_equal(d.params["weight"], e.params["weight"])
    np.testing.assert_array_equal(make(np.random.default_rng(5)).params["weight"],
                                  d.params["weight"])


@pytest.mark.parametrize("make, fan_in", [
    (lambda: cl.Conv2d(16, 64, 5, rng=0), 16 * 25),
    (lambda: cl.Conv2d(3, 200, (3, 2), rng=1), 3 * 6),
    (lambda: cl.Linear(300, 200, rng=2), 300),
])
def test_he_init_std(make, fan_in):
    w = make().params["weight"].astype(np.float64)
    n = w.size  # >= 20000 draws: the sample std is within ~1% of the truth
    assert w.std() == pytest.approx(np.sqrt(2 / fan_in), rel=4 / np.sqrt(2 * n) + 0.005)
    assert abs(w.mean()) < 4 * np.sqrt(2 / fan_in) / np.sqrt(n)


# ----------------------------------------------------------------------------- dtypes end to end
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_end_to_end_in_both_dtypes(dtype, rng):
    model = lenet(dtype)
    x = rng.standard_normal((5, 1, 8, 8)).astype(dtype)
    acts = model.forward_with_activations(x)
    assert len(acts) == len(model) and all(a.dtype == dtype for a in acts)
    logits = acts[-1]
    assert logits.shape == (5, 3)
    criterion = cl.CrossEntropyLoss()
    loss = criterion(logits, np.array([0, 1, 2, 1, 0]))
    assert np.isfinite(loss)
    dx = model.backward(criterion.backward())
    assert dx.shape == x.shape and dx.dtype == dtype
    assert model.grads.keys() == model.params.keys()
    assert all(g.dtype == dtype for g in model.grads.values())


def test_astype_float64_matches_float32_model(rng):
    m32 = lenet(np.float32).eval()
    m64 = lenet(np.float32).eval().astype(np.float64)
    assert all(p.dtype == np.float64 for p in m64.params.values())
    assert all(b.dtype == np.float64 for b in m64.buffers.values())
    x = rng.standard_normal((2, 1, 8, 8))
    out64 = m64(x)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(m32(x.astype(np.float32)), out64, rtol=1e-4, atol=1e-5)
    m64.backward(np.ones_like(out64))
    assert all(g.dtype == np.float64 for g in m64.grads.values())


def test_layer_astype_returns_self_and_resets_grads(rng):
    layer = cl.Linear(3, 2, rng=0)
    layer(rng.standard_normal((1, 3)).astype(np.float32))
    layer.backward(np.ones((1, 2), np.float32))
    assert layer.astype(np.float64) is layer
    assert layer.grads == {}
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 2)))


# ----------------------------------------------------------------------------- dropout modes
def test_dropout_eval_is_identity(rng):
    layer = cl.Dropout(0.7, rng=0).eval()
    x = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layer(x), x)
    dout = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layer.backward(dout), dout)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_train_statistics(p):
    layer = cl.Dropout(p, rng=0)
    assert layer.training
    x = np.ones((100, 1000))
    out = layer(x)
    dropped = out == 0
    assert abs(dropped.mean() - p) < 0.01  # 1e5 draws: std of the fraction <= 0.0016
    np.testing.assert_allclose(out[~dropped], 1 / (1 - p), rtol=1e-6)
    assert out.mean() == pytest.approx(1.0, abs=0.03)  # expectation preserved
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, out)  # same mask, same scale
    # a new mask on every call
    assert not np.array_equal(layer(x) == 0, dropped)


def test_dropout_train_eval_switch_and_seed():
    x = np.ones((10, 10))
    a, b = cl.Dropout(0.5, rng=3), cl.Dropout(0.5, rng=3)
    np.testing.assert_array_equal(a(x), b(x))
    a.eval()
    assert not a.training
    np.testing.assert_array_equal(a(x), x)
    a.train()
    assert (a(x) == 0).any()


# ----------------------------------------------------------------------------- batch norm modes
def test_batchnorm_train_updates_running_stats_and_eval_uses_them(rng):
    bn = cl.BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    x = rng.standard_normal((8, 3, 4, 4)) * np.array([1.0, 2.0, 3.0])[:, None, None] + 5
    out = bn(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    assert_close(out.var(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3))
                                                                    + 1e-5), 1e-9)
    m = 8 * 16
    assert_close(bn.buffers["running_mean"], 0.2 * x.mean(axis=(0, 2, 3)), 1e-12)
    assert_close(bn.buffers["running_var"], 0.8 + 0.2 * x.var(axis=(0, 2, 3)) * m / (m - 1),
                 1e-12)
    rm, rv = bn.buffers["running_mean"].copy(), bn.buffers["running_var"].copy()
    bn.eval()
    y = rng.standard_normal((2, 3, 4, 4))
    out = bn(y)
    assert_close(out, (y - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5), 1e-12)
    # eval does not touch the running statistics; a batch of one image is fine in eval
    np.testing.assert_array_equal(bn.buffers["running_mean"], rm)
    bn(y[:1, :, :1, :1])
    np.testing.assert_array_equal(bn.buffers["running_var"], rv)


def test_batchnorm_converges_to_data_statistics(rng):
    bn = cl.BatchNorm2d(2, momentum=0.5, dtype=np.float64)
    x = rng.standard_normal((16, 2, 5, 5)) * np.array([0.5, 4.0])[:, None, None] + np.array(
        [-3.0, 2.0])[:, None, None]
    for _ in range(60):
        bn(x)
    m = 16 * 25
    assert_close(bn.buffers["running_mean"], x.mean(axis=(0, 2, 3)), 1e-10)
    assert_close(bn.buffers["running_var"], x.var(axis=(0, 2, 3)) * m / (m - 1), 1e-10)


# ----------------------------------------------------------------------------- Sequential
def test_sequential_keys_like_pytorch_state_dict():
    model = lenet()
    assert list(model.params) == ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight",
                                  "4.bias", "9.weight", "9.bias"]
    assert list(model.buffers) == ["1.running_mean", "1.running_var"]
    assert model.params["0.weight"] is model[0].params["weight"]  # the layers' own arrays
    assert len(model) == 10 and isinstance(model[3], cl.MaxPool2d)
    assert "(9): Linear" in repr(model)


def test_sequential_train_eval_propagates():
    model = lenet()
    assert model.eval() is model
    assert not model.training and not any(layer.training for layer in model.layers)
    model.train()
    assert model.training and all(layer.training for layer in model.layers)


def test_sequential_in_place_update_trains_the_layers(rng):
    model = lenet(np.float64)
    before = model[0].params["weight"].copy()
    for p in model.params.values():
        p -= 0.1
    np.testing.assert_array_equal(model[0].params["weight"], before - 0.1)


def test_state_dict_round_trip(rng):
    src = lenet(rng=0)
    src(rng.standard_normal((4, 1, 8, 8)).astype(np.float32))  # move the BN running stats
    state = src.state_dict()
    assert state.keys() == {**src.params, **src.buffers}.keys()
    assert state["0.weight"] is not src.params["0.weight"]  # copies
    state_copy = {k: v.copy() for k, v in state.items()}
    dst = lenet(rng=100)
    assert not np.array_equal(dst.params["0.weight"], src.params["0.weight"])
    dst.load_state_dict(state)
    for k, v in state_copy.items():
        np.testing.assert_array_equal(dst.state_dict()[k], v)
    x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(src.eval()(x), dst.eval()(x))
    # loading copies: changing the state afterwards leaves the model alone
    state["0.weight"][:] = 0
    assert dst.params["0.weight"].any()


def test_zero_grad_sequential(rng):
    model = lenet(np.float64)
    out = model(rng.standard_normal((2, 1, 8, 8)))
    model.backward(np.ones_like(out))
    model.zero_grad()
    assert model.grads.keys() == model.params.keys()
    assert all(not g.any() for g in model.grads.values())


def test_cross_entropy_loss_layer_matches_functional(rng):
    z, y = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    criterion = cl.CrossEntropyLoss()
    assert criterion(z, y) == F.cross_entropy(z, y)
    _, cache = F.cross_entropy_forward(z, y)
    np.testing.assert_array_equal(criterion.backward(), F.cross_entropy_backward(1.0, cache))


@pytest.mark.parametrize("first", ["conv", "linear"])
def test_backward_without_input_grad_gives_the_same_parameter_grads(first, rng):
    if first == "conv":
        model = cl.Sequential(cl.Conv2d(1, 3, 3, dtype=np.float64, rng=0), cl.ReLU(),
                              cl.Flatten(), cl.Linear(3 * 4 * 4, 2, dtype=np.float64, rng=1))
        x = rng.standard_normal((2, 1, 6, 6))
    else:
        model = cl.Sequential(cl.Linear(5, 4, dtype=np.float64, rng=0), cl.ReLU(),
                              cl.Linear(4, 2, dtype=np.float64, rng=1))
        x = rng.standard_normal((3, 5))
    dout = rng.standard_normal(model(x).shape)
    dx = model.backward(dout)
    full = {k: g.copy() for k, g in model.grads.items()}
    model(x)
    assert model.backward(dout, input_grad=False) is None
    assert dx.shape == x.shape
    assert full.keys() == model.grads.keys()
    for k in full:
        np.testing.assert_array_equal(full[k], model.grads[k])


def test_conv2d_backward_input_grad_false_skips_dx_in_both_paths(rng):
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    for lib in (F, cl.readable):
        out, cache = lib.conv2d_forward(x, w, b, stride=2, padding=1)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = lib.conv2d_backward(dout, cache, input_grad=False)
        _, dw_full, db_full = lib.conv2d_backward(dout, cache)
        assert dx is None
        np.testing.assert_array_equal(dw, dw_full)
        np.testing.assert_array_equal(db, db_full)


def test_evaluating_runs_in_eval_mode_and_restores_the_mode_even_after_an_error():
    model = cl.Sequential(cl.Dropout(0.5, rng=0), cl.ReLU())
    with model.evaluating():
        assert not model.training and not model[0].training
    assert model.training and model[0].training
    with pytest.raises(RuntimeError), model.evaluating():
        raise RuntimeError("inside")
    assert model.training and model[0].training
    model.eval()
    with model.evaluating():
        pass
    assert not model.training, "an eval-mode model stays in eval mode"


# ----------------------------------------------------------------------------- workspaces
def test_workspace_reuses_grows_and_validates():
    ws = Workspace()
    a = ws.empty("cols", (3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.c_contiguous
    assert a.ctypes.data % 64 == 0
    b = ws.empty("cols", (2, 3), np.float64)       # smaller: the same memory
    assert np.shares_memory(a, b) and ws.nbytes == 48
    c = ws.empty("cols", (5, 5), np.float64)       # larger: grown
    assert not np.shares_memory(a, c) and ws.nbytes == 200
    assert not np.shares_memory(c, ws.empty("other", (5, 5), np.float64))
    assert not ws.zeros("mask", (2, 2), bool).any()
    assert "cols" in repr(ws)
    ws.clear()
    assert ws.nbytes == 0
    with pytest.raises(TypeError, match="name"):
        ws.empty(1, (2,), np.float32)
    with pytest.raises(ValueError, match="shape"):
        ws.empty("x", (2, -1), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        ws.empty("x", (2,), np.int64)
    capped = Workspace(max_bytes=100)
    d = capped.empty("cols", (10,), np.float64)            # 80 bytes: kept
    assert np.shares_memory(d, capped.empty("cols", (5,), np.float64))
    e = capped.empty("dcols", (5,), np.float64)            # 80 + 40 > 100: fresh, not kept
    assert e.shape == (5,) and capped.nbytes == 80 and "at most" in repr(capped)
    with pytest.raises(ValueError, match="max_bytes"):
        Workspace(max_bytes=-1)
    with pytest.raises(TypeError, match="workspace must be"):
        cl.fast_conv.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
                                    workspace="scratch")


CONV_LAYER_SHAPES = {  # (in, out, kernel, padding, H): both fast_conv branches
    "per_image": (2, 3, 3, 1, 16),   # 16x16 outputs: one product per image
    "batch": (3, 4, 3, 0, 7),        # 5x5 outputs: the batch-last product
}


@pytest.mark.parametrize("shape", CONV_LAYER_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_layer_results_survive_the_next_steps(shape, dtype, rng):
    """The workspace is reused, never handed out: a step's output, dx and grads stay as they
    were after two more steps (one with a partial batch), and equal a fresh layer's."""
    c_in, c_out, k, p, hw = CONV_LAYER_SHAPES[shape]
    layer = cl.Conv2d(c_in, c_out, k, padding=p, dtype=dtype, rng=0)
    x1 = rng.standard_normal((4, c_in, hw, hw)).astype(dtype)
    out1 = layer(x1)
    assert layer._cache.per_image == (shape == "per_image")
    dout1 = rng.standard_normal(out1.shape).astype(dtype)
    dx1 = layer.backward(dout1)
    grads1 = dict(layer.grads)
    kept = [a.copy() for a in (out1, dx1, *grads1.values())]
    for n in (4, 3):                     # a full batch, then a last partial one
        x = rng.standard_normal((n, c_in, hw, hw)).astype(dtype)
        out = layer(x)
        layer.backward(rng.standard_normal(out.shape).astype(dtype))
        for a in (out, *layer.grads.values()):
            assert not any(np.shares_memory(a, b) for b in layer.workspace._buffers.values())
    for a, b in zip((out1, dx1, *grads1.values()), kept, strict=True):
        np.testing.assert_array_equal(a, b)
    fresh = cl.Conv2d(c_in, c_out, k, padding=p, dtype=dtype, rng=0).eval()
    np.testing.assert_array_equal(fresh(x1), out1)
    np.testing.assert_array_equal(fresh.backward(dout1), dx1)
    for key in grads1:
        np.testing.assert_array_equal(fresh.grads[key], grads1[key])


def test_conv_layer_eval_keeps_small_scratch_memory_only(rng, monkeypatch):
    """Training memory is not grown by scoring; eval mode keeps its own scratch memory up to
    EVAL_WORKSPACE_BYTES (an explorer's small batches), and a bigger batch takes fresh memory
    with the same numbers."""
    monkeypatch.setattr(cl.layers, "EVAL_WORKSPACE_BYTES", 40_000)
    layer = cl.Conv2d(1, 2, 3, dtype=np.float64, rng=0)
    layer(rng.standard_normal((2, 1, 8, 8)))
    held = layer.workspace.nbytes
    assert held > 0 and layer.eval_workspace.nbytes == 0
    small, big = rng.standard_normal((4, 1, 8, 8)), rng.standard_normal((50, 1, 8, 8))
    with layer.evaluating():
        out_small = layer(small)
        kept = layer.eval_workspace.nbytes
        out_big = layer(big)
        dx_big = layer.backward(np.ones_like(out_big))
        assert 0 < kept <= layer.eval_workspace.nbytes <= 40_000
        again = layer(small)
    assert layer.workspace.nbytes == held
    fresh = cl.Conv2d(1, 2, 3, dtype=np.float64, rng=0).eval()
    np.testing.assert_array_equal(out_small, fresh(small))
    np.testing.assert_array_equal(again, out_small)
    np.testing.assert_array_equal(out_big, fresh(big))
    np.testing.assert_array_equal(dx_big, fresh.backward(np.ones_like(out_big)))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(5, 7), (3, 2, 5, 5), (1,), ()])
def test_relu_layer_equals_functional(threads, shape, rng):
    x = rng.standard_normal(shape)
    dout = rng.standard_normal(shape)
    layer = cl.ReLU()
    with split_work(threads):
        out, dx = layer(x), layer.backward(dout)
    out_f, cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, out_f)
    np.testing.assert_array_equal(dx, F.relu_backward(dout, cache))
    assert np.signbit(out).sum() == 0, "max(x, 0) is +0.0, never -0.0"
    with pytest.raises(ValueError, match="dout must"):
        layer.backward(np.ones(shape + (2,)))
    with pytest.raises(TypeError, match="float32 or float64"):
        layer(np.ones(3, dtype=int))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_steps_keep_earlier_activations_and_grads(threads, dtype, rng):
    """A LeNet-like net on one or two threads: every activation and gradient a step hands
    out stays as it was through a later full step and a last partial batch (the workspaces
    are reused, never returned), and equals what a fresh net computes."""
    def net():
        return cl.Sequential(cl.Conv2d(1, 4, 3, padding=1, dtype=dtype, rng=0), cl.ReLU(),
                             cl.MaxPool2d(2), cl.Conv2d(4, 6, 3, dtype=dtype, rng=1),
                             cl.ReLU(), cl.MaxPool2d(2), cl.Flatten(),
                             cl.Linear(6 * 2 * 2, 3, dtype=dtype, rng=2))
    x1 = rng.standard_normal((6, 1, 12, 12)).astype(dtype)
    dlogits = rng.standard_normal((6, 3)).astype(dtype)
    model = net()
    with split_work(threads):
        acts1 = model.forward_with_activations(x1)
        dx1 = model.backward(dlogits)
        grads1 = model.grads
        kept = [a.copy() for a in (*acts1, dx1, *grads1.values())]
        for n in (6, 5):
            model(rng.standard_normal((n, 1, 12, 12)).astype(dtype))
            model.backward(rng.standard_normal((n, 3)).astype(dtype))
    for a, b in zip((*acts1, dx1, *grads1.values()), kept, strict=True):
        np.testing.assert_array_equal(a, b)
    fresh = net()
    np.testing.assert_array_equal(fresh(x1), acts1[-1])
    np.testing.assert_array_equal(fresh.backward(dlogits), dx1)
    for key, g in fresh.grads.items():
        np.testing.assert_array_equal(g, grads1[key])


@pytest.mark.parametrize("threads", [1, 2])
def test_relu_in_place_variants_overwrite_their_argument_only_when_they_can(threads, rng):
    x = rng.standard_normal((3, 2, 5, 5))
    dout = rng.standard_normal(x.shape)
    expected = cl.ReLU()
    out_f, dx_f = expected(x), expected.backward(dout)
    layer = cl.ReLU()
    with split_work(threads):
        x_, dout_ = x.copy(), dout.copy()
        out, dx = layer.forward_(x_), layer.backward_(dout_)
        assert out is x_ and dx is dout_, "in place on contiguous, writable arrays"
        np.testing.assert_array_equal(out, out_f)
        np.testing.assert_array_equal(dx, dx_f)
        frozen = x.copy()
        frozen.flags.writeable = False
        strided = x.copy()[:, :, ::2]
        assert layer.forward_(frozen) is not frozen
        np.testing.assert_array_equal(layer.forward_(strided), np.maximum(strided, 0))
        np.testing.assert_array_equal(strided, x[:, :, ::2], "strided input left alone")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_overwrites_only_its_own_intermediate_arrays(dtype, rng):
    """Sequential lets ReLU work in place on what a Conv2d or Linear just made, never on the
    caller's x or dout (the first ReLU sees x; the last Flatten hands back a view of dout)
    nor after a layer that may keep its output (pooling); the numbers are those of
    layer-by-layer calls."""
    def net():
        return cl.Sequential(cl.ReLU(), cl.Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=0),
                             cl.ReLU(), cl.Conv2d(3, 3, 1, dtype=dtype, rng=2),
                             cl.MaxPool2d(3, stride=1), cl.ReLU(), cl.Flatten(),
                             cl.Linear(3 * 4 * 4, 5, dtype=dtype, rng=1), cl.ReLU(),
                             cl.Flatten())
    x = rng.standard_normal((4, 2, 6, 6)).astype(dtype)
    dout = rng.standard_normal((4, 5)).astype(dtype)
    x_kept, dout_kept = x.copy(), dout.copy()
    model, by_layer = net(), net()
    out = model(x)
    dx = model.backward(dout)
    np.testing.assert_array_equal(x, x_kept)
    np.testing.assert_array_equal(dout, dout_kept)
    h = x
    for layer in by_layer.layers:
        h = layer.forward(h)
    np.testing.assert_array_equal(out, h)
    g = dout
    for layer in reversed(by_layer.layers):
        g = layer.backward(g)
    np.testing.assert_array_equal(dx, g)
    for key, grad in by_layer.grads.items():
        np.testing.assert_array_equal(model.grads[key], grad)


@pytest.mark.parametrize("pool", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_sequential_runs_relu_after_the_max_pool_it_precedes_with_the_same_numbers(pool, rng):
    """run_order swaps ReLU -> MaxPool2d (they commute); outputs, dx and grads are those of
    layer-by-layer calls in the written order, to the bit, even with ties and windows whose
    maximum is 0 or negative (integers in -2..1 make many)."""
    def net():
        return cl.Sequential(cl.Conv2d(1, 2, 1, dtype=np.float64, rng=0), cl.ReLU(),
                             cl.MaxPool2d(**pool), cl.ReLU(), cl.MaxPool2d(**pool),
                             cl.AvgPool2d(1), cl.ReLU())
    model, by_layer = net(), net()
    model[0].params["weight"][...] = 1.0
    by_layer[0].params["weight"][...] = 1.0
    assert model.run_order() == [0, 2, 1, 4, 3, 5, 6]  # AvgPool2d does not commute with ReLU
    x = rng.integers(-2, 2, (3, 1, 8, 8)).astype(np.float64)
    out = model(x)
    h = x
    for layer in by_layer.layers:
        h = layer.forward(h)
    np.testing.assert_array_equal(out, h)
    dout = rng.standard_normal(out.shape)
    dx = model.backward(dout)
    g = dout
    for layer in reversed(by_layer.layers):
        g = layer.backward(g)
    np.testing.assert_array_equal(dx, g)
    for key, grad in by_layer.grads.items():
        np.testing.assert_array_equal(model.grads[key], grad)
    acts = model.forward_with_activations(x)       # the written order, for pictures
    assert [a.shape for a in acts] == [a.shape for a in by_layer.forward_with_activations(x)]
    np.testing.assert_array_equal(model.backward(dout), dx)  # follows that forward's order


def test_parallel_split_covers_the_range_once_and_propagates_errors():
    seen = []
    with split_work(2):
        parallel.split(lambda a, b: seen.append((a, b)), 7)
        assert sorted(seen) == [(0, 1), (1, 3), (3, 5), (5, 7)]   # PARTS parts, any thread
        inner = []
        parallel.split(lambda a, b: parallel.split(
            lambda c, d: inner.append((c, d)), b - a), 4)   # a part does not split again
        assert sorted(inner) == [(0, 1)] * 4

        def fail(a, b):
            if a == 2:
                raise RuntimeError("third part")

        with pytest.raises(RuntimeError, match="third part"):
            parallel.split(fail, 4)
    with split_work(1):
        seen.clear()
        parallel.split(lambda a, b: seen.append((a, b)), 7)
        assert seen == [(0, 7)]
        assert parallel.slot() == 0


def test_parallel_parts_know_their_thread_and_run_blas_on_it_alone():
    """slot() is 0 on the calling thread and 1 on the second, one thread per slot; BLAS
    runs on one thread during a split and gets its count back after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    seen = []

    def part(a, b):
        seen.append((parallel.slot(), threading.get_ident(),
                     [lib.num_threads for lib in blas.lib_controllers]))
        time.sleep(0.01)   # long enough for the second thread to take a part

    with blas.limit(limits=2), split_work(2):
        parallel.split(part, 8)
        assert [lib.num_threads for lib in blas.lib_controllers] == [2] * len(blas.lib_controllers)
    assert {s for s, _, _ in seen} == {0, 1}
    assert all(counts == [1] * len(counts) for _, _, counts in seen)
    threads_of = {s: {t for s_, t, _ in seen if s_ == s} for s in (0, 1)}
    assert threads_of[0] == {threading.get_ident()} and len(threads_of[1]) == 1
    with parallel.threads(2):
        assert not parallel.splits(2, elements=10)   # too small to be worth a thread
    with pytest.raises(ValueError, match="n must be >= 1"):
        parallel.set_num_threads(0)
    parallel.set_num_threads(parallel.get_num_threads())
