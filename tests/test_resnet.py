"""Global average pooling, the residual block and the small ResNet: gradient checks, PyTorch
parity (skipped without torch), argument validation, parameter keys, modes, dtypes, state dicts
and a chance-level first loss."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, assert_steps_match_torch, copy_params_to_torch, distinct

import course_lib as cl
from course_lib import functional as F
from course_lib.data import load_mnist, normalize
from course_lib.gradcheck import check_function, check_layer
from course_lib.models import MODELS, build_model, resnet_small
from course_lib.train import load_model, save_model

TOL = 1e-10  # relative agreement with PyTorch in float64, as in test_torch_parity.py


def body(c=2, dtype=np.float64, rng=0, batch_norm=True):
    """Conv -> (BN) -> ReLU -> Conv -> (BN): the shape-preserving body of a basic block."""
    rng = np.random.default_rng(rng)
    bn = (lambda: [cl.BatchNorm2d(c, dtype=dtype)]) if batch_norm else list
    return cl.Sequential(cl.Conv2d(c, c, 3, padding=1, bias=not batch_norm, dtype=dtype,
                                   rng=rng), *bn(), cl.ReLU(),
                         cl.Conv2d(c, c, 3, padding=1, bias=not batch_norm, dtype=dtype,
                                   rng=rng), *bn())


def tiny_resnet(dtype=np.float64, rng=0):
    """resnet_small's layer pattern with 2-3 channels, for numerical gradient checks."""
    gen = np.random.default_rng(rng)
    return cl.Sequential(
        cl.Conv2d(1, 2, 3, padding=1, bias=False, dtype=dtype, rng=gen),
        cl.BatchNorm2d(2, dtype=dtype), cl.ReLU(),
        cl.Residual(body(2, dtype, gen)), cl.ReLU(),
        cl.Conv2d(2, 3, 3, stride=2, padding=1, dtype=dtype, rng=gen), cl.ReLU(),
        cl.Residual(body(3, dtype, gen, batch_norm=False)),
        cl.GlobalAvgPool2d(),
        cl.Linear(3, 4, dtype=dtype, rng=gen),
    )


# ----------------------------------------------------------------------------- global avg pool
def test_global_avg_pool_is_the_mean_of_each_channel(rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    out = cl.GlobalAvgPool2d()(x)
    assert out.shape == (3, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(F.global_avg_pool2d(x), out)
    # = average pooling with a window the size of the image, flattened
    np.testing.assert_allclose(out, F.avg_pool2d(x, (5, 6)).reshape(3, 4), atol=1e-6)
    dout = rng.standard_normal((3, 4)).astype(np.float32)
    layer = cl.GlobalAvgPool2d()
    layer(x)
    dx = layer.backward(dout)
    assert dx.shape == x.shape and dx.dtype == np.float32 and dx.flags.c_contiguous
    np.testing.assert_allclose(dx, np.broadcast_to(dout[:, :, None, None] / 30, x.shape))
    assert layer.params == {} and layer.grads == {}


def test_global_avg_pool_gradient_checks(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert check_layer(cl.GlobalAvgPool2d(), x)
    assert check_function(F.global_avg_pool2d_forward, F.global_avg_pool2d_backward, dict(x=x))


# ----------------------------------------------------------------------------- residual
def test_residual_is_x_plus_body(rng):
    inner = body(3, rng=1)
    block = cl.Residual(inner)
    x = rng.standard_normal((2, 3, 5, 5))
    out = block(x)
    ref = body(3, rng=1)  # same weights
    np.testing.assert_allclose(out, x + ref(x), rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = block.backward(dout)
    np.testing.assert_allclose(dx, dout + ref.backward(dout), rtol=1e-12, atol=1e-14)
    for k, g in ref.grads.items():
        np.testing.assert_allclose(block.grads[f"body.{k}"], g, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn", "no_bn"])
def test_residual_gradient_check(batch_norm, rng):
    block = cl.Residual(body(2, batch_norm=batch_norm, rng=3))
    x = distinct(rng, (2, 2, 4, 4), spacing=0.1)
    report = check_layer(block, x)
    assert report, report
    assert {row[0] for row in report.rows} == {"dx"} | {"d" + k for k in block.params}


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_whole_residual_net_gradient_check(mode, rng):
    net = tiny_resnet(rng=2).train(mode == "train")
    if mode == "eval":
        net.forward(distinct(rng, (4, 1, 6, 6), spacing=0.1))  # move the running stats
        net.eval()
    report = check_layer(net, distinct(rng, (3, 1, 6, 6), spacing=0.1))
    assert report, report
    assert any(name.startswith("d3.body.") for name, *_ in report.rows)


def test_sequential_with_residual_keys_modes_dtypes():
    net = resnet_small(0)
    keys = list(net.params)
    assert "4.body.0.weight" in keys and "9.body.4.bias" in keys
    assert "4.body.4.running_var" in net.buffers
    assert net.grads == {}
    x = np.zeros((2, 1, 28, 28), np.float32)
    net.backward(np.ones_like(net(x)))
    assert net.grads.keys() == net.params.keys()
    # arrays are shared, not copied: an optimiser updating params in place trains the body
    net.params["4.body.0.weight"][0, 0, 0, 0] = 123.0
    assert net[4].body[0].params["weight"][0, 0, 0, 0] == 123.0
    net.eval()
    assert not net[4].training and not net[4].body[1].training
    net.train()
    assert net[9].body[4].training
    net.zero_grad()
    assert all(not g.any() for g in net.grads.values())
    net64 = resnet_small(0).astype(np.float64)
    assert {p.dtype for p in net64.params.values()} == {np.dtype(np.float64)}
    assert {b.dtype for b in net64.buffers.values()} == {np.dtype(np.float64)}
    assert net64(x.astype(np.float64)).dtype == np.float64
    assert "Residual(" in repr(net) and "(body): Sequential(" in repr(net[4])


def test_residual_backward_params_fills_the_grads(rng):
    block = cl.Residual(body(2, rng=0))
    x = rng.standard_normal((2, 2, 4, 4))
    dout = rng.standard_normal((2, 2, 4, 4))
    block(x)
    full = {k: g.copy() for k, g in (block.backward(dout), block.grads)[1].items()}
    block(x)
    block.backward_params(dout)
    for k, g in full.items():
        np.testing.assert_allclose(block.grads[k], g)


def test_state_dict_round_trip(tmp_path):
    x = normalize(load_mnist().x_train[:32])
    net = resnet_small(0)
    for _ in range(2):  # training passes move the running statistics inside the blocks
        net(x)
    state = net.state_dict()
    assert state.keys() == {**net.params, **net.buffers}.keys()
    fresh = resnet_small(1)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.eval()(x), net.eval()(x))
    loaded = load_model(save_model(net, tmp_path / "resnet.npz"))  # rebuilt from "resnet"
    assert loaded.arch == "resnet"
    np.testing.assert_array_equal(loaded.eval()(x), net(x))
    state["4.body.0.weight"] = state["4.body.0.weight"][:1]
    with pytest.raises(ValueError, match=r"state\['4.body.0.weight'\] must have shape"):
        fresh.load_state_dict(state)


# ----------------------------------------------------------------------------- validation
def test_validation_errors_name_the_argument(rng):
    gap = cl.GlobalAvgPool2d()
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\)"):
        gap(rng.standard_normal((2, 3, 4)))
    with pytest.raises(TypeError, match="x must have dtype float32 or float64"):
        gap(np.zeros((1, 1, 2, 2), dtype=np.int64))
    with pytest.raises(RuntimeError, match="GlobalAvgPool2d.backward called before forward"):
        cl.GlobalAvgPool2d().backward(np.zeros((1, 1)))
    gap(rng.standard_normal((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"dout must be 2-D"):
        gap.backward(np.zeros((2, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 3\)"):
        gap.backward(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="dout must have the forward output's dtype float64"):
        gap.backward(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="body must be a course_lib Layer"):
        cl.Residual(lambda v: v)
    shrink = cl.Residual(cl.Sequential(cl.Conv2d(2, 2, 3, dtype=np.float64, rng=0)))
    with pytest.raises(ValueError, match=r"body must return an array of its input's shape"):
        shrink(rng.standard_normal((1, 2, 5, 5)))
    widen = cl.Residual(cl.Conv2d(2, 4, 1, dtype=np.float64, rng=0))
    with pytest.raises(ValueError, match="body must return"):
        widen(rng.standard_normal((1, 2, 5, 5)))
    block = cl.Residual(body(2))
    with pytest.raises(RuntimeError, match="Residual.backward called before forward"):
        block.backward(np.zeros((1, 2, 4, 4)))
    block(rng.standard_normal((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="dout must have the forward output's shape"):
        block.backward(np.zeros((1, 2, 4, 5)))
    with pytest.raises(ValueError, match="x must be finite"):
        block(np.full((1, 2, 4, 4), np.nan))


# ----------------------------------------------------------------------------- the model
def test_resnet_small_shapes_parameters_and_registry():
    net = build_model("resnet", 0)
    assert MODELS["resnet"] is resnet_small and net.arch == "resnet"
    assert sum(p.size for p in net.params.values()) == 28_410
    acts = net.forward_with_activations(np.zeros((2, 1, 28, 28), np.float32))
    assert [a.shape[1:] for a in acts][3:] == [
        (16, 14, 14), (16, 14, 14), (16, 14, 14), (32, 7, 7), (32, 7, 7), (32, 7, 7),
        (32, 7, 7), (32, 7, 7), (32,), (10,)]
    assert not any(k.endswith("bias") for k in net.params if k[0] != "1" and "weight" in k)


def test_resnet_small_starts_at_chance_level_loss():
    d = load_mnist()
    x, y = normalize(d.x_train[:256]), d.y_train[:256]
    for seed in range(5):
        loss = cl.CrossEntropyLoss()(resnet_small(seed)(x), y)
        assert abs(loss - np.log(10)) < 0.3, (seed, loss)


# ----------------------------------------------------------------------------- PyTorch parity
@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _torch_residual(torch):
    class Residual(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.body = inner

        def forward(self, x):
            return x + self.body(x)

    return Residual


def _torch_resnet_small(torch):
    nn, Residual = torch.nn, _torch_residual(torch)

    def conv_bn(c_in, c_out, stride=1):
        return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)]

    def block(c):
        return Residual(nn.Sequential(*conv_bn(c, c), nn.ReLU(), *conv_bn(c, c)))

    return nn.Sequential(
        *conv_bn(1, 16), nn.ReLU(), nn.MaxPool2d(2), block(16), nn.ReLU(),
        *conv_bn(16, 32, 2), nn.ReLU(), block(32), nn.ReLU(),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),  # one module: same indices
        nn.Linear(32, 10)).double()


def _copy_params(ours, theirs):
    assert {k for k, _ in theirs.named_parameters()} == ours.params.keys()
    copy_params_to_torch(ours, theirs)


@pytest.mark.torch
def test_global_avg_pool_matches_torch(torch, rng):
    x = rng.standard_normal((2, 3, 5, 4))
    out, cache = F.global_avg_pool2d_forward(x)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.adaptive_avg_pool2d(tx, 1).flatten(1)
    assert_close(out, tout.detach().numpy(), TOL)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.from_numpy(dout))
    assert_close(F.global_avg_pool2d_backward(dout, cache), tx.grad.numpy(), TOL)


@pytest.mark.torch
def test_residual_block_matches_torch(torch, rng):
    ours = cl.Residual(body(3, rng=5))
    nn = torch.nn
    theirs = _torch_residual(torch)(nn.Sequential(
        nn.Conv2d(3, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU(),
        nn.Conv2d(3, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3))).double()
    _copy_params(ours, theirs)
    for _ in range(2):
        x = rng.standard_normal((2, 3, 6, 5))
        out = ours(x)
        tx = torch.tensor(x, requires_grad=True)
        theirs.zero_grad()
        tout = theirs(tx)
        assert_close(out, tout.detach().numpy(), TOL, "forward")
        dout = rng.standard_normal(out.shape)
        tout.backward(torch.from_numpy(dout))
        assert_close(ours.backward(dout), tx.grad.numpy(), TOL, "dx")
        for k, p in theirs.named_parameters():
            assert_close(ours.grads[k], p.grad.numpy(), TOL, "d" + k)
        for k, buf in theirs.named_buffers():
            if k in ours.buffers:
                assert_close(ours.buffers[k], buf.numpy(), TOL, k)


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_resnet_small_matches_torch(torch, mode, rng):
    """Logits, loss, dx, every parameter gradient and the running statistics, two steps."""
    ours = resnet_small(0, dtype=np.float64)
    for k, p in ours.params.items():  # non-trivial BN affine parameters and biases
        if not k.endswith("weight") or p.ndim == 1:
            p[:] = (1.0 if k.endswith("weight") else 0.0) + 0.2 * rng.standard_normal(p.shape)
    for k, b in ours.buffers.items():
        b[:] = (rng.random(b.shape) + 0.5) if k.endswith("var") else rng.standard_normal(b.shape)
    theirs = _torch_resnet_small(torch)
    _copy_params(ours, theirs)
    ours.train(mode == "train")
    theirs.train(mode == "train")
    assert_steps_match_torch(ours, theirs, rng, TOL)
