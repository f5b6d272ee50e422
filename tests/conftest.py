"""Shared fixtures, comparison helpers and hypothesis strategies for the core tests.

Test modules import the helpers directly (``from conftest import conv_cases``): pytest puts
``tests/`` on ``sys.path`` because it is not a package.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import strategies as st

from course_lib import fast_conv, functional, readable

# The kernels nbval starts inherit this: OpenBLAS's AVX2 kernels on every x86-64 CPU, so the
# lessons' stored outputs match on AVX-512 machines too (see the Makefile's test target).
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

# Comparison tolerances per dtype: summation order differs between the loop and the
# vectorized code, so results agree to a few ulps times the number of terms.
RTOL = {np.float32: 1e-5, np.float64: 1e-12}


# Every way the library computes conv2d: the loops, the teachable batch-wide im2col, and
# fast_conv with each of its branches forced (per-image products with the general or the
# stride-1 col2im, or the batch-last batch-wide product), whatever the shape would choose.
CONV_VERSIONS = ["readable", "functional", "fast:per_image", "fast:per_image+short_rows",
                 "fast:batch"]
FAST_CONV_VERSIONS = [v for v in CONV_VERSIONS if v.startswith("fast")]


@contextlib.contextmanager
def conv_version(name: str):
    """Yield the module that computes conv2d as ``name`` (one of CONV_VERSIONS) says."""
    if name in ("readable", "functional"):
        yield {"readable": readable, "functional": functional}[name]
        return
    branch = name.split(":")[1]
    saved = fast_conv.PER_IMAGE_MIN_PIXELS, fast_conv.SHORT_ROW_MAX_WIDTH
    fast_conv.PER_IMAGE_MIN_PIXELS = 0 if branch.startswith("per_image") else 10**12
    fast_conv.SHORT_ROW_MAX_WIDTH = 10**9 if branch.endswith("short_rows") else -1
    try:
        yield fast_conv
    finally:
        fast_conv.PER_IMAGE_MIN_PIXELS, fast_conv.SHORT_ROW_MAX_WIDTH = saved


@pytest.fixture
def rng():
    """A fresh, seeded generator per test (tests stay independent and deterministic)."""
    return np.random.default_rng(1234)


def assert_close(actual, desired, rtol, err_msg=""):
    """assert_allclose with ``rtol`` and an absolute floor of ``rtol * max|desired|``.

    The floor keeps entries that cancel to almost zero (sums of signed products) from
    failing a purely relative test while still catching any real discrepancy.
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, f"shape {actual.shape} != {desired.shape} {err_msg}"
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * max(scale, 1e-30),
                               err_msg=err_msg)


def copy_params_to_torch(ours, theirs):
    """Copy a course_lib layer's ``params`` (and the ``buffers`` it keeps) into its torch
    twin, matched by name (``theirs.named_parameters()`` / ``named_buffers()``)."""
    import torch

    with torch.no_grad():
        for k, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(ours.params[k]))
        for k, buf in theirs.named_buffers():
            if k in ours.buffers:
                buf.copy_(torch.from_numpy(ours.buffers[k]))


def assert_steps_match_torch(ours, theirs, rng, rtol, steps=2):
    """Train-step parity with PyTorch (float64): for ``steps`` random MNIST-shaped batches,
    ``ours`` (a course_lib Sequential) and ``theirs`` (its torch twin, same weights) give the
    same logits, loss, dx, every parameter gradient and every buffer they share."""
    import torch

    from course_lib import CrossEntropyLoss

    criterion = CrossEntropyLoss()
    for _ in range(steps):
        x, y = rng.standard_normal((4, 1, 28, 28)), rng.integers(0, 10, 4)
        logits = ours(x)
        loss = criterion(logits, y)
        dx = ours.backward(criterion.backward())
        tx = torch.tensor(x, requires_grad=True)
        theirs.zero_grad()
        tlogits = theirs(tx)
        tloss = torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(y))
        tloss.backward()
        assert_close(logits, tlogits.detach().numpy(), rtol, "logits")
        assert loss == pytest.approx(tloss.item(), rel=rtol)
        assert_close(dx, tx.grad.numpy(), rtol, "dx")
        for k, p in theirs.named_parameters():
            assert_close(ours.grads[k], p.grad.numpy(), rtol, "d" + k)
        buffers = dict(theirs.named_buffers())  # theirs also counts batches: ours need not
        assert ours.buffers.keys() <= buffers.keys(), "a buffer PyTorch does not have"
        for k in ours.buffers:
            assert_close(ours.buffers[k], buffers[k].numpy(), rtol, k)


def distinct(rng, shape, spacing=0.05):
    """Shuffled values no two closer than ``spacing``: no max-pool ties, and no entry within a
    finite-difference step of ReLU's kink at 0 (so numerical gradients are exact)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2 + 0.5) * spacing).reshape(shape)


def _span(k: int, d: int) -> int:
    return d * (k - 1) + 1


@st.composite
def conv_cases(draw, dtypes=(np.float32, np.float64)):
    """Valid conv2d arguments: dict(x, weight, bias, stride, padding, dilation, dtype).

    Covers non-square inputs and kernels, 1x1 kernels, batch 1, strides that do not
    divide, int / pair / 'same' / 'valid' padding and dilation; sizes stay small so the
    loop version is quick. The spatial size is drawn so the kernel span fits the padded
    input.
    """
    dtype = draw(st.sampled_from(dtypes))
    n, c, f = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    if kind == "same":
        stride = (1, 1)
        pad_hw = (0, 0)  # 'same' pads inside conv2d; the input alone need not fit the span
        padding = "same"
    elif kind == "valid":
        pad_hw, padding = (0, 0), "valid"
    elif kind == "int":
        p = draw(st.integers(0, 2))
        pad_hw, padding = (p, p), p
    else:
        pad_hw = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        padding = pad_hw
    if kind == "same":
        h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    else:
        min_h = max(1, _span(kh, dilation[0]) - 2 * pad_hw[0])
        min_w = max(1, _span(kw, dilation[1]) - 2 * pad_hw[1])
        h, w = draw(st.integers(min_h, min_h + 5)), draw(st.integers(min_w, min_w + 5))
    # stride and dilation given as an int when both axes agree, to exercise both forms
    stride = stride[0] if stride[0] == stride[1] else stride
    dilation = dilation[0] if dilation[0] == dilation[1] else dilation
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    has_bias = draw(st.booleans())
    return dict(
        x=gen.standard_normal((n, c, h, w)).astype(dtype),
        weight=gen.standard_normal((f, c, kh, kw)).astype(dtype),
        bias=gen.standard_normal(f).astype(dtype) if has_bias else None,
        stride=stride, padding=padding, dilation=dilation, dtype=dtype,
    )


@st.composite
def pool_cases(draw, dtypes=(np.float32, np.float64)):
    """Valid pooling arguments: dict(x, kernel_size, stride, padding, dtype).

    Overlapping (stride < kernel), gapped (stride > kernel) and default (None) strides,
    non-square kernels, padding at most half the kernel, batch 1, 1x1 kernels.
    """
    dtype = draw(st.sampled_from(dtypes))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    stride = draw(st.one_of(st.none(), st.integers(1, 4),
                            st.tuples(st.integers(1, 4), st.integers(1, 4))))
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 6))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 6))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return dict(
        x=gen.standard_normal((n, c, h, w)).astype(dtype),
        kernel_size=kh if kh == kw else (kh, kw),
        stride=stride,
        padding=ph if ph == pw else (ph, pw),
        dtype=dtype,
    )

# nbval's kernels inherit this environment: importing course_lib.viz (every lesson's setup
# cell calls viz.use_lesson_style()) then makes each figure the inline backend shows fail its
# cell when a text would show below 11 pt in a 1100-px notebook column (viz.audit_figure_text).
os.environ.setdefault("COURSE_AUDIT_FIGURES", "1")

# Notebooks under tests/ are fixtures read by the tests, not lessons for nbval to run.
collect_ignore_glob = ["*.ipynb"]


# ---------------------------------------------------------------------------- scheduling
# `make test` runs pytest-xdist with `--dist loadfile`, refined by the two hooks below (which
# see the lessons nbval collects from notebooks/ too): each file runs whole on one worker, in
# order (a notebook's cells build on each other; module fixtures such as the graded toy class,
# the hostile gallery or the built website are made once), except the files in SPREAD, whose
# tests are independent and slow enough to be worth spreading over the workers; files known to
# be slow are handed out first, so that none of them starts last and holds up the end of the
# run. Both lists change only the scheduling, never what runs.
SPREAD = ("test_lesson_decks.py", "test_widget_layout.py")
SLOW_FIRST = ("test_site.py", "test_grade.py", "test_slides.py", "07_training_on_mnist.ipynb",
              "test_grade_hostile.py", "test_grade_nbgrader.py", "10_where_cnns_went_next.ipynb",
              "test_widgets.py", "test_browser.py", "test_browser_drawing.py",
              "01_why_convolutions.ipynb",
              "test_deck_frames.py", "08_batchnorm_and_dropout.ipynb", *SPREAD)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)   # stable: the order within a file is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        """loadfile, except that each test of a SPREAD file is a unit of its own."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path.rsplit("/", 1)[-1] in SPREAD else path

    return FileScheduling(config, log)


@contextlib.contextmanager
def split_work(threads: int):
    """``threads`` threads for course_lib.parallel, splitting even the tiny test arrays."""
    from course_lib import parallel

    saved = parallel.MIN_SPLIT_ELEMENTS
    parallel.MIN_SPLIT_ELEMENTS = 0
    try:
        with parallel.threads(threads):
            yield
    finally:
        parallel.MIN_SPLIT_ELEMENTS = saved
