"""Optimisers and schedules: PyTorch's update rules, hand-computed values, validation."""

import math

import numpy as np
import pytest

from course_lib.optim import (
    SGD,
    Adam,
    ConstantLR,
    CosineLR,
    CosineRestartsLR,
    StepLR,
    WarmupCosineLR,
)


def _problem(dtype=np.float64, seed=0):
    """Two parameter arrays and a sequence of gradients for them."""
    rng = np.random.default_rng(seed)
    params = {"0.weight": rng.standard_normal((3, 4)).astype(dtype),
              "0.bias": rng.standard_normal(3).astype(dtype)}
    grads = [{k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
             for _ in range(5)]
    return params, grads


# ----------------------------------------------------------------------------- hand-computed
def test_sgd_plain_step_is_p_minus_lr_g():
    p = {"w": np.array([1.0, -2.0])}
    SGD(p, lr=0.1).step({"w": np.array([0.5, 1.0])})
    np.testing.assert_allclose(p["w"], [0.95, -2.1], rtol=0, atol=1e-15)


def test_sgd_momentum_matches_hand_computation():
    # PyTorch convention: v1 = g1; v2 = m * v1 + g2; p -= lr * v
    p = {"w": np.array([1.0])}
    opt = SGD(p, lr=0.1, momentum=0.9)
    opt.step({"w": np.array([1.0])})            # v = 1,     p = 1 - 0.1
    opt.step({"w": np.array([2.0])})            # v = 2.9,   p = 0.9 - 0.29
    np.testing.assert_allclose(p["w"], [0.61], rtol=0, atol=1e-14)
    np.testing.assert_allclose(opt.velocity["w"], [2.9], rtol=0, atol=1e-14)


def test_sgd_weight_decay_adds_l2_gradient():
    p = {"w": np.array([2.0])}
    SGD(p, lr=0.5, weight_decay=0.1).step({"w": np.array([0.0])})
    np.testing.assert_allclose(p["w"], [2.0 - 0.5 * 0.2], rtol=0, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_lr():
    # after bias correction, m_hat / sqrt(v_hat) = g / |g| = sign(g) on step 1
    p = {"w": np.array([1.0, 1.0, 1.0])}
    Adam(p, lr=0.01, eps=0.0).step({"w": np.array([3.0, -0.001, 250.0])})
    np.testing.assert_allclose(p["w"], [0.99, 1.01, 0.99], rtol=0, atol=1e-12)


def test_adam_two_steps_match_hand_computation():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    g1, g2 = 1.0, 3.0
    m = (1 - b1) * g1
    v = (1 - b2) * g1 ** 2
    w = 0.5 - lr * (m / (1 - b1)) / (math.sqrt(v / (1 - b2)) + eps)
    m = b1 * m + (1 - b1) * g2
    v = b2 * v + (1 - b2) * g2 ** 2
    w -= lr * (m / (1 - b1 ** 2)) / (math.sqrt(v / (1 - b2 ** 2)) + eps)
    p = {"w": np.array([0.5])}
    opt = Adam(p, lr=lr, betas=(b1, b2), eps=eps)
    opt.step({"w": np.array([g1])})
    opt.step({"w": np.array([g2])})
    np.testing.assert_allclose(p["w"], [w], rtol=1e-13)


def test_updates_are_in_place_and_keep_dtype():
    params, grads = _problem(np.float32)
    arrays = dict(params)
    before = {k: v.copy() for k, v in params.items()}
    for opt in (SGD(params, 0.1, momentum=0.9), Adam(params, 0.01)):
        opt.step(grads[0])
    for k in params:
        assert params[k] is arrays[k]
        assert params[k].dtype == np.float32
        assert not np.array_equal(params[k], before[k])


def test_sgd_descends_a_quadratic():
    target = np.array([3.0, -1.0])
    p = {"w": np.zeros(2)}
    for opt in (SGD(p, lr=0.1, momentum=0.9), Adam(p, lr=0.1)):
        p["w"][...] = 0
        for _ in range(300):
            opt.step({"w": 2 * (p["w"] - target)})
        np.testing.assert_allclose(p["w"], target, atol=1e-3)


# ----------------------------------------------------------------------------- PyTorch
def _torch_run(torch, make_torch_opt, params, grads, schedule_fn=None):
    tp = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    opt = make_torch_opt(list(tp.values()))
    sched = schedule_fn(opt) if schedule_fn else None
    for g in grads:
        for k, t in tp.items():
            t.grad = torch.tensor(g[k])
        opt.step()
        if sched:
            sched.step()
    return {k: t.detach().numpy() for k, t in tp.items()}


def _ours_run(make_opt, params, grads, schedule_fn=None):
    params = {k: v.copy() for k, v in params.items()}
    opt = make_opt(params)
    sched = schedule_fn(opt) if schedule_fn else None
    for g in grads:
        opt.step(g)
        if sched:
            sched.step()
    return params


@pytest.mark.torch
@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 1e-2)])
def test_sgd_matches_torch(momentum, weight_decay):
    torch = pytest.importorskip("torch")
    params, grads = _problem()
    ours = _ours_run(lambda p: SGD(p, 0.05, momentum, weight_decay), params, grads)
    ref = _torch_run(torch, lambda p: torch.optim.SGD(p, lr=0.05, momentum=momentum,
                                                      weight_decay=weight_decay), params, grads)
    for k in params:
        np.testing.assert_allclose(ours[k], ref[k], rtol=0, atol=1e-10)


@pytest.mark.torch
@pytest.mark.parametrize("betas, weight_decay", [((0.9, 0.999), 0.0), ((0.8, 0.99), 1e-2)])
def test_adam_matches_torch(betas, weight_decay):
    torch = pytest.importorskip("torch")
    params, grads = _problem()
    ours = _ours_run(lambda p: Adam(p, 1e-2, betas, 1e-8, weight_decay), params, grads)
    ref = _torch_run(torch, lambda p: torch.optim.Adam(p, lr=1e-2, betas=betas, eps=1e-8,
                                                       weight_decay=weight_decay), params, grads)
    for k in params:
        np.testing.assert_allclose(ours[k], ref[k], rtol=0, atol=1e-10)


@pytest.mark.torch
def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    params, grads = _problem()
    sched = torch.optim.lr_scheduler
    cases = [
        (lambda o: StepLR(o, 2, 0.5), lambda o: sched.StepLR(o, 2, 0.5)),
        (lambda o: CosineLR(o, 4, min_lr=1e-3), lambda o: sched.CosineAnnealingLR(o, 4, 1e-3)),
        (lambda o: CosineRestartsLR(o, 3, min_lr=1e-3),
         lambda o: sched.CosineAnnealingWarmRestarts(o, 3, eta_min=1e-3)),
    ]
    for ours_sched, torch_sched in cases:
        ours = _ours_run(lambda p: SGD(p, 0.1, 0.9), params, grads, ours_sched)
        ref = _torch_run(torch, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                         params, grads, torch_sched)
        for k in params:
            np.testing.assert_allclose(ours[k], ref[k], rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- schedules
def test_warmup_cosine_shape():
    opt = Adam({"w": np.zeros(1)}, lr=1.0)
    s = WarmupCosineLR(opt, total_steps=110, warmup_steps=10, min_lr=0.1)
    lrs = s.lrs(120)
    assert opt.lr == pytest.approx(0.1)  # construction sets step 0's rate
    np.testing.assert_allclose(lrs[:10], np.arange(1, 11) / 10)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55)  # half way down the cosine: (1 + 0.1) / 2
    assert np.all(np.diff(lrs[10:110]) <= 0)
    np.testing.assert_allclose(lrs[110:], 0.1)
    for t in range(1, 5):
        assert s.step() == pytest.approx(lrs[t]) and opt.lr == pytest.approx(lrs[t])


def test_cosine_restarts_shape():
    opt = Adam({"w": np.zeros(1)}, lr=1.0)
    s = CosineRestartsLR(opt, period=20, decay=0.5, warmup_steps=4, min_lr=0.1)
    lrs = s.lrs(60)
    assert opt.lr == pytest.approx(0.25)  # step 0 of the warm-up
    np.testing.assert_allclose(lrs[:4], [0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0)  # the first cosine spans steps 4..19
    assert lrs[12] == pytest.approx(0.55)  # half way: (1 + 0.1) / 2
    peaks = 0.1 + 0.9 * np.array([0.5, 0.25])  # cycles 1 and 2 start from decayed peaks
    np.testing.assert_allclose(lrs[[20, 40]], peaks)
    np.testing.assert_allclose(lrs[[30, 50]], (peaks + 0.1) / 2)
    for start in (4, 20, 40):  # decreasing within each cycle, low just before a restart
        cycle = lrs[start:(start // 20 + 1) * 20]
        assert np.all(np.diff(cycle) < 0) and cycle[-1] < 0.11


def test_step_and_constant_lr():
    opt = SGD({"w": np.zeros(1)}, lr=0.4)
    np.testing.assert_allclose(StepLR(opt, 3, gamma=0.5).lrs(7),
                               [0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1])
    opt = SGD({"w": np.zeros(1)}, lr=0.4)
    np.testing.assert_allclose(ConstantLR(opt).lrs(3), 0.4)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("make, error, match", [
    (lambda p: SGD(p, lr=0), ValueError, "lr"),
    (lambda p: SGD(p, lr="0.1"), TypeError, "lr"),
    (lambda p: SGD(p, lr=0.1, momentum=1.0), ValueError, "momentum"),
    (lambda p: SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda p: Adam(p, betas=(0.9,)), ValueError, "betas"),
    (lambda p: Adam(p, betas=(0.9, 1.5)), ValueError, r"betas\[1\]"),
    (lambda p: Adam(p, eps=float("nan")), ValueError, "eps"),
    (lambda p: SGD([p["w"]], lr=0.1), TypeError, "params"),
    (lambda p: SGD({}, lr=0.1), ValueError, "params"),
    (lambda p: SGD({"w": [1.0, 2.0]}, lr=0.1), TypeError, r"params\['w'\]"),
])
def test_constructor_validation(make, error, match):
    with pytest.raises(error, match=match):
        make({"w": np.zeros(2)})


def test_step_validation_names_the_bad_gradient():
    p = {"w": np.zeros(2), "b": np.zeros(1)}
    opt = Adam(p)
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        opt.step({"w": np.zeros(2)})
    with pytest.raises(ValueError, match=r"grads\['w'\].*shape"):
        opt.step({"w": np.zeros(3), "b": np.zeros(1)})
    with pytest.raises(TypeError, match=r"grads\['w'\].*dtype"):
        opt.step({"w": np.zeros(2, np.float32), "b": np.zeros(1)})
    with pytest.raises(ValueError, match=r"grads\['b'\] must be finite"):
        opt.step({"w": np.zeros(2), "b": np.array([np.nan])})
    assert opt.step_count == 0 and not np.any(p["w"])  # nothing was changed


def test_schedule_validation():
    opt = SGD({"w": np.zeros(1)}, lr=0.1)
    with pytest.raises(TypeError, match="optimizer"):
        StepLR("sgd", 2)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupCosineLR(opt, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="min_lr"):
        CosineLR(opt, 10, min_lr=1.0)
    with pytest.raises(ValueError, match="period"):
        CosineRestartsLR(opt, 0)
    with pytest.raises(ValueError, match="decay must be <= 1.0, got 1.5"):
        CosineRestartsLR(opt, 10, decay=1.5)
    with pytest.raises(ValueError, match="warmup_steps must be < period = 10, got 10"):
        CosineRestartsLR(opt, 10, warmup_steps=10)
    with pytest.raises(TypeError, match="optimizer"):
        CosineRestartsLR("adam", 10)
