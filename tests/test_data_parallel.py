"""course_lib.data_parallel: half of each batch in a worker process, the same numbers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import course_lib as cl
from course_lib import data_parallel as dp_mod
from course_lib import parallel
from course_lib.data_parallel import DataParallel, data_parallel, per_example
from course_lib.models import build_model
from course_lib.optim import SGD
from course_lib.train import fit


def small_net(dtype=np.float64):
    return cl.Sequential(cl.Conv2d(1, 4, 3, padding=1, dtype=dtype, rng=0), cl.ReLU(),
                         cl.MaxPool2d(2), cl.Flatten(),
                         cl.Linear(4 * 4 * 4, 5, dtype=dtype, rng=1))


def test_per_example_knows_which_models_keep_examples_apart():
    assert per_example(build_model("lenet", rng=0))
    assert per_example(cl.Sequential(cl.Residual(cl.Sequential(cl.ReLU())), cl.Flatten()))
    assert not per_example(build_model("resnet", rng=0))      # BatchNorm2d
    assert not per_example(cl.Sequential(cl.Flatten(), cl.Dropout(0.5, rng=0)))
    with pytest.raises(ValueError, match="BatchNorm2d or Dropout"):
        DataParallel(cl.Sequential(cl.BatchNorm2d(1)))


def test_halves_give_the_whole_batch_numbers_and_follow_parameter_updates(rng):
    model, alone = small_net(), small_net()
    dp = DataParallel(model)
    try:
        for _ in range(3):
            x = rng.standard_normal((37, 1, 8, 8))         # odd: 19 here, 18 in the worker
            dlogits = rng.standard_normal((37, 5))
            np.testing.assert_allclose(dp.forward(x), alone.forward(x), rtol=1e-12, atol=1e-12)
            dp.backward(dlogits)
            alone.backward(dlogits, input_grad=False)
            assert model.grads.keys() == alone.grads.keys()
            for k, g in alone.grads.items():
                np.testing.assert_allclose(model.grads[k], g, rtol=1e-10, atol=1e-12)
            for p, q in zip(model.params.values(), alone.params.values(), strict=True):
                p -= 0.1 * np.sign(p)                         # what an optimiser does
                q -= 0.1 * np.sign(q)
        x = rng.standard_normal((40, 1, 8, 8))                 # a bigger batch: a new buffer
        np.testing.assert_allclose(dp.forward(x), alone.forward(x), rtol=1e-12, atol=1e-12)
        small = rng.standard_normal((dp_mod.MIN_SPLIT_BATCH - 1, 1, 8, 8))   # runs here alone
        np.testing.assert_array_equal(dp.forward(small), alone.forward(small))
        dp.backward(np.ones((len(small), 5)))
    finally:
        dp.close()


def test_errors_are_raised_here_and_the_worker_stays_usable(rng):
    model = small_net()
    dp = DataParallel(model)
    try:
        with pytest.raises(ValueError, match="input_grad=False"):
            dp.backward(np.ones((20, 5)), input_grad=True)
        dp.forward(rng.standard_normal((20, 1, 8, 8)))
        with pytest.raises(ValueError, match="dout"):
            dp.backward(np.ones((20, 6)))                       # wrong number of classes
        out = dp.forward(rng.standard_normal((20, 1, 8, 8)))
        dp.backward(np.ones_like(out))
        assert all(np.isfinite(g).all() for g in model.grads.values())
    finally:
        dp.close()


def test_two_models_take_turns_on_the_one_worker(rng):
    a, b = small_net(), small_net()
    for p in b.params.values():
        p *= 2
    x = rng.standard_normal((20, 1, 8, 8))
    da, db = DataParallel(a), DataParallel(b)
    try:
        for _ in range(2):   # each forward re-sends its model when the other had the worker
            np.testing.assert_allclose(da.forward(x), a.forward(x), rtol=1e-12)
            np.testing.assert_allclose(db.forward(x), b.forward(x), rtol=1e-12)
    finally:
        da.close()
        db.close()


def test_fit_trains_data_parallel_on_two_threads_with_the_one_thread_numbers(rng):
    x = rng.standard_normal((96, 1, 8, 8))
    y = rng.integers(0, 5, 96)
    runs = {}
    for threads in (1, 2):
        model = small_net()
        with parallel.threads(threads):
            with data_parallel(model) as net:
                assert isinstance(net, DataParallel) == (threads == 2)
            runs[threads] = fit(model, cl.CrossEntropyLoss(), SGD(model.params, lr=0.1),
                                (x, y), 2, batch_size=32, seed=0, progress=False)
    np.testing.assert_allclose(runs[2].step_loss, runs[1].step_loss, rtol=1e-9)
    assert parallel.get_num_threads() == 1               # restored after the epochs
    bn = cl.Sequential(cl.Conv2d(1, 2, 3, dtype=np.float64, rng=0), cl.BatchNorm2d(
        2, dtype=np.float64), cl.Flatten(), cl.Linear(72, 5, dtype=np.float64, rng=0))
    with parallel.threads(2), data_parallel(bn) as net:
        assert net is bn                                  # batch statistics: one process


def test_pickled_layers_leave_caches_and_scratch_memory_behind(rng):
    conv = cl.Conv2d(1, 2, 3, dtype=np.float64, rng=0)
    conv.forward(rng.standard_normal((4, 1, 6, 6)))
    assert conv.workspace.nbytes > 0
    copy = pickle.loads(pickle.dumps(conv))
    assert copy._cache is None and copy.workspace.nbytes == 0
    np.testing.assert_array_equal(copy.params["weight"], conv.params["weight"])
    with pytest.raises(RuntimeError, match="before forward"):
        copy.backward(np.ones((4, 2, 4, 4)))
