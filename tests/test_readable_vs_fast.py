"""The fast (vectorized) ops agree with the readable loop versions on random valid shapes.

Property-based: hypothesis draws shapes, strides (dividing or not), padding (int, pair,
'same', 'valid'), dilation, 1x1 and non-square kernels, batch 1, float32 and float64.
``derandomize=True`` makes every run draw the same examples.
"""

from __future__ import annotations

import contextlib
from functools import partial

import numpy as np
import pytest
from conftest import (
    CONV_VERSIONS,
    RTOL,
    assert_close,
    conv_cases,
    conv_version,
    pool_cases,
    split_work,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import fast_conv, fast_pool
from course_lib import functional as F
from course_lib import readable as R
from course_lib.workspace import Workspace


def examples(n):
    """Deterministic hypothesis settings with n examples."""
    return settings(max_examples=n, deadline=None, derandomize=True)


def _dout(shape, dtype, seed=7):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _as_pair(v):
    return (v, v) if isinstance(v, int) else v


def _conv_out_shape(case):
    """(N, F, OH, OW) from the textbook formula, per axis."""
    (n, _, h, w), (f, _, kh, kw) = case["x"].shape, case["weight"].shape
    if case["padding"] == "same":
        return (n, f, h, w)
    ph, pw = _as_pair(0 if case["padding"] == "valid" else case["padding"])
    (sh, sw), (dh, dw) = _as_pair(case["stride"]), _as_pair(case["dilation"])
    return (n, f, F.conv_output_size(h, kh, sh, ph, dh), F.conv_output_size(w, kw, sw, pw, dw))


SHARED_WORKSPACE = Workspace()


# every version on one thread; fast_conv's branches on two threads too
VERSIONS_AND_THREADS = [(v, 1) for v in CONV_VERSIONS[1:]] + [
    (v, 2) for v in CONV_VERSIONS if v.startswith("fast")]


@pytest.mark.parametrize("version, threads", VERSIONS_AND_THREADS)
@examples(120)
@given(case=conv_cases(), images_per_chunk=st.sampled_from([1, 2, 1 << 20]))
def test_conv2d_versions_equal_readable(version, threads, case, images_per_chunk):
    """functional and every branch of fast_conv give the loops' numbers, forward and back;
    per-image products im2col one image, two, or the whole part at a time."""
    dtype, rtol = case["dtype"], RTOL[case["dtype"]]
    n, c, _, _ = case["x"].shape
    _, _, oh, ow = _conv_out_shape(case)
    image_bytes = c * case["weight"][0, 0].size * oh * ow * case["x"].itemsize
    args = dict(x=case["x"], weight=case["weight"], bias=case["bias"], stride=case["stride"],
                padding=case["padding"], dilation=case["dilation"])
    # fast_conv reuses one workspace across all examples (shapes, dtypes, branches change)
    ws = {"workspace": SHARED_WORKSPACE} if version.startswith("fast") else {}
    with conv_version(version) as fast, split_work(threads), chunk_bytes(
            images_per_chunk * image_bytes):
        out_f, cache_f = fast.conv2d_forward(**args, **ws)
        dout = _dout(out_f.shape, dtype)
        dx_f, dw_f, db_f = fast.conv2d_backward(dout, cache_f)
    out_r, cache_r = R.conv2d_forward(**args)
    assert out_f.dtype == out_r.dtype == dtype
    assert out_f.shape == _conv_out_shape(case)
    assert_close(out_f, out_r, rtol, "forward")
    dx_r, dw_r, db_r = R.conv2d_backward(dout, cache_r)
    assert dx_f.shape == case["x"].shape and dw_f.shape == case["weight"].shape
    assert dx_f.dtype == dw_f.dtype == dtype
    assert_close(dx_f, dx_r, rtol, "dx")
    assert_close(dw_f, dw_r, rtol, "dweight")
    if case["bias"] is None:
        assert db_f is None and db_r is None
    else:
        assert db_f.dtype == dtype
        assert_close(db_f, db_r, rtol, "dbias")


@examples(40)
@given(conv_cases())
def test_conv2d_shortcut_equals_forward(case):
    args = {k: case[k] for k in ("x", "weight", "bias", "stride", "padding", "dilation")}
    np.testing.assert_array_equal(F.conv2d(**args), F.conv2d_forward(**args)[0])
    np.testing.assert_array_equal(R.conv2d(**args), R.conv2d_forward(**args)[0])


@contextlib.contextmanager
def chunk_bytes(n):
    """fast_conv.CHUNK_BYTES = n inside the block."""
    saved, fast_conv.CHUNK_BYTES = fast_conv.CHUNK_BYTES, n
    try:
        yield
    finally:
        fast_conv.CHUNK_BYTES = saved


def _check_pool(fast_pair, readable_pair, case):
    dtype, rtol = case["dtype"], RTOL[case["dtype"]]
    args = {k: case[k] for k in ("x", "kernel_size", "stride", "padding")}
    out_f, cache_f = fast_pair[0](**args)
    out_r, cache_r = readable_pair[0](**args)
    assert out_f.dtype == out_r.dtype == dtype
    assert_close(out_f, out_r, rtol, "forward")
    dout = _dout(out_f.shape, dtype)
    dx_f, dx_r = fast_pair[1](dout, cache_f), readable_pair[1](dout, cache_r)
    assert dx_f.shape == case["x"].shape and dx_f.dtype == dtype
    assert_close(dx_f, dx_r, rtol, "dx")


@examples(200)
@given(pool_cases())
def test_max_pool2d_fast_equals_readable(case):
    _check_pool((F.max_pool2d_forward, F.max_pool2d_backward),
                (R.max_pool2d_forward, R.max_pool2d_backward), case)


@examples(100)
@given(pool_cases(dtypes=(np.float64,)))
def test_pooling_on_two_threads_equals_readable(case):
    """fast_pool (the layers') splits the batch between two threads; ties included."""
    case = {**case, "x": np.round(case["x"])}
    with split_work(2):
        _check_pool((partial(fast_pool.split_forward, F.max_pool2d_forward),
                     partial(fast_pool.split_backward, F.max_pool2d_backward)),
                    (R.max_pool2d_forward, R.max_pool2d_backward), case)
        _check_pool((partial(fast_pool.split_forward, F.avg_pool2d_forward),
                     partial(fast_pool.split_backward, F.avg_pool2d_backward)),
                    (R.avg_pool2d_forward, R.avg_pool2d_backward), case)


@examples(200)
@given(pool_cases())
def test_avg_pool2d_fast_equals_readable(case):
    _check_pool((F.avg_pool2d_forward, F.avg_pool2d_backward),
                (R.avg_pool2d_forward, R.avg_pool2d_backward), case)


@examples(150)
@given(pool_cases(dtypes=(np.float64,)))
def test_max_pool2d_fast_equals_readable_with_ties(case):
    """Inputs rounded to a few levels have many ties; both must pick the same maximum."""
    case = {**case, "x": np.round(case["x"])}
    _check_pool((F.max_pool2d_forward, F.max_pool2d_backward),
                (R.max_pool2d_forward, R.max_pool2d_backward), case)


@st.composite
def tile_cases(draw):
    """Max pooling whose windows tile the input (stride = kernel, no padding: fast_pool's
    TileCache branch), rows and columns left over included; inputs rounded for ties."""
    case = draw(pool_cases(dtypes=(np.float32, np.float64)))
    kh, kw = _as_pair(case["kernel_size"])
    n, c = case["x"].shape[:2]
    h, w = draw(st.integers(kh, 3 * kh + 2)), draw(st.integers(kw, 3 * kw + 2))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal((n, c, h, w))
    if draw(st.booleans()):
        x = np.round(x)  # many ties
    stride = draw(st.sampled_from([None, case["kernel_size"], (kh, kw)]))
    return dict(case, x=x.astype(case["dtype"]), stride=stride, padding=0)


@pytest.mark.parametrize("threads", [1, 2])
@examples(150)
@given(case=tile_cases())
def test_max_pool2d_tiles_equal_readable(threads, case):
    """fast_pool's max pooling (TileCache) gives the loops' numbers and ties, also split."""
    with split_work(threads):
        out, cache = fast_pool.max_pool2d_forward(
            case["x"], case["kernel_size"], case["stride"], case["padding"])
        assert isinstance(cache, fast_pool.TileCache)
        _check_pool((partial(fast_pool.split_forward, fast_pool.max_pool2d_forward),
                     partial(fast_pool.split_backward, fast_pool.max_pool2d_backward)),
                    (R.max_pool2d_forward, R.max_pool2d_backward), case)


@examples(100)
@given(pool_cases(dtypes=(np.float64,)))
def test_fast_pool_max_pool2d_equals_readable(case):
    """Windows that do not tile (overlapping, gapped, padded) take functional's op."""
    case = {**case, "x": np.round(case["x"])}
    _check_pool((fast_pool.max_pool2d_forward, fast_pool.max_pool2d_backward),
                (R.max_pool2d_forward, R.max_pool2d_backward), case)


@examples(40)
@given(pool_cases())
def test_pool_shortcuts_equal_forward(case):
    args = {k: case[k] for k in ("x", "kernel_size", "stride", "padding")}
    for mod in (F, R):
        np.testing.assert_array_equal(mod.max_pool2d(**args), mod.max_pool2d_forward(**args)[0])
        np.testing.assert_array_equal(mod.avg_pool2d(**args), mod.avg_pool2d_forward(**args)[0])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, (2, 1), 2)])
def test_batch_last_col2im_one_channel_block_at_a_time(threads, stride, padding, dilation,
                                                       monkeypatch):
    """The batch-last col2im adds dcols back a block of channels at a time (one here)."""
    from course_lib import fast_conv
    monkeypatch.setattr(fast_conv, "COL2IM_BLOCK_BYTES", 1)
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 5, 7, 8)), rng.standard_normal((4, 5, 3, 2)), None
    args = dict(stride=stride, padding=padding, dilation=dilation)
    out, cache = F.conv2d_forward(x, w, b, **args)
    dout = rng.standard_normal(out.shape)
    with conv_version("fast:batch") as fast, split_work(threads):
        out_fast, cache_fast = fast.conv2d_forward(x, w, b, **args, workspace=Workspace())
        got = fast.conv2d_backward(dout, cache_fast)
    assert not cache_fast.per_image
    assert_close(out_fast, out, 1e-12, "out")
    dx, dweight, dbias = F.conv2d_backward(dout, cache)
    assert got[2] is None and dbias is None
    assert_close(got[0], dx, 1e-12, "dx")
    assert_close(got[1], dweight, 1e-12, "dweight")
