"""Backprop, layer by layer: relu_backward, linear_backward, softmax_cross_entropy_backward,
max_pool2d_backward, conv2d_backward."""

import numpy as np

from course_lib import readable

from ._gallery import right, wrong


@wrong("relu_backward", "`x >= 0`")
def relu_ge(dout, x):
    return dout * (x >= 0)


@wrong("relu_backward", "applied relu to dout")
def relu_of_dout(dout, x):
    return np.maximum(dout, 0)


@wrong("relu_backward", "returned the mask")
def relu_mask_only(dout, x):
    return (x > 0).astype(x.dtype)


@wrong("relu_backward", "in place")
def relu_in_place(dout, x):
    dout[x <= 0] = 0
    return dout


@right("relu_backward")
def relu_where(dout, x):
    return np.where(x > 0, dout, 0)


# ----------------------------------------------------------------------------- linear_backward
# PyTorch's layout: out = x @ w.T + b with w of shape (out_features, in_features).
@wrong("linear_backward", "`dw` is transposed")
def linear_dw_transposed(dout, x, w):
    return dout @ w, x.T @ dout, dout.sum(axis=0)


@wrong("linear_backward", "summed over the batch")
def linear_db_not_summed(dout, x, w):
    return dout @ w, dout.T @ x, dout


@wrong("linear_backward", "divided by n")
def linear_dw_mean(dout, x, w):
    return dout @ w, dout.T @ x / len(x), dout.sum(axis=0)


@wrong("linear_backward", "extra transpose")
def linear_dx_extra_transpose(dout, x, w):
    return dout @ w.T, dout.T @ x, dout.sum(axis=0)


@wrong("linear_backward", "the mean over the batch")
def linear_db_mean(dout, x, w):
    return dout @ w, dout.T @ x, dout.mean(axis=0)


@right("linear_backward")
def linear_einsum(dout, x, w):
    return (np.einsum("nj,ji->ni", dout, w), np.einsum("nj,ni->ji", dout, x),
            np.einsum("nj->j", dout))


@right("linear_backward")
def linear_loops(dout, x, w):
    """The index formulas of the lesson, as loops."""
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for n in range(x.shape[0]):
        for j in range(w.shape[0]):
            dx[n] += dout[n, j] * w[j]
            dw[j] += dout[n, j] * x[n]
    return dx, dw, dout.sum(axis=0)


# ---------------------------------------------------------------- softmax_cross_entropy_backward
def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@wrong("softmax_cross_entropy_backward", "divide by n")
def sce_no_mean(logits, y):
    p = _softmax(logits)
    p[np.arange(len(y)), y] -= 1
    return p


@wrong("softmax_cross_entropy_backward", "true class only")
def sce_no_onehot(logits, y):
    return _softmax(logits) / len(y)


@wrong("softmax_cross_entropy_backward", "whole columns")
def sce_columns(logits, y):
    p = _softmax(logits)
    p[:, y] -= 1
    return p / len(y)


@wrong("softmax_cross_entropy_backward", "sign")
def sce_sign(logits, y):
    p = _softmax(logits)
    p[np.arange(len(y)), y] -= 1
    return -p / len(y)


@wrong("softmax_cross_entropy_backward", "overflows")
def sce_unshifted(logits, y):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)


@right("softmax_cross_entropy_backward")
def sce_onehot_matrix(logits, y):
    onehot = np.eye(logits.shape[1], dtype=logits.dtype)[y]
    return (_softmax(logits) - onehot) / logits.dtype.type(len(y))


# ----------------------------------------------------------------------------- max_pool2d_backward
def _readable_backward(dout, x, k, s):
    """readable's max-pool backward: each window's gradient to its first maximum."""
    return readable.max_pool2d_backward(dout, readable.max_pool2d_forward(x, k, s)[1])


@wrong("max_pool2d_backward", "every maximum")
def pool_back_all_ties(dout, x, kernel_size, stride):
    """A mask of each window's maxima, `window == window.max()`, times its dout."""
    k, s = kernel_size, stride
    dx = np.zeros_like(x)
    for i, j in np.ndindex(*dout.shape[2:]):
        window = x[:, :, i * s:i * s + k, j * s:j * s + k]
        mask = window == window.max(axis=(2, 3), keepdims=True)
        dx[:, :, i * s:i * s + k, j * s:j * s + k] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx


@wrong("max_pool2d_backward", "last maximum")
def pool_back_last_tie(dout, x, kernel_size, stride):
    """readable's backward on x and dout turned by 180 degrees (its first maximum is then the
    last one), turned back; the rows and columns no window reaches are cut first."""
    h, w = ((n - 1) * stride + kernel_size for n in dout.shape[2:])
    dx = np.zeros_like(x)
    dx[:, :, :h, :w] = _readable_backward(dout[:, :, ::-1, ::-1], x[:, :, h - 1::-1, w - 1::-1],
                                          kernel_size, stride)[:, :, ::-1, ::-1]
    return dx


@wrong("max_pool2d_backward", "overwrite")
def pool_back_assign(dout, x, kernel_size, stride):
    """readable's backward one window at a time, each result written over the last (`=`)."""
    dx = np.zeros_like(x)
    for i, j in np.ndindex(*dout.shape[2:]):
        alone = np.zeros_like(dout)
        alone[:, :, i, j] = dout[:, :, i, j]
        routed = _readable_backward(alone, x, kernel_size, stride)
        dx = np.where(routed != 0, routed, dx)
    return dx


@wrong("max_pool2d_backward", "whole window")
def pool_back_spread(dout, x, kernel_size, stride):
    k, s = kernel_size, stride
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i:i + 1, j:j + 1]
    return dx


@right("max_pool2d_backward")
def pool_back_vectorised(dout, x, kernel_size, stride):
    """Per window: argmax over the flattened window (first maximum), scattered with np.add.at."""
    k, s = kernel_size, stride
    n, c, oh, ow = dout.shape
    dx = np.zeros_like(x)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, k * k)
            u, v = np.divmod(window.argmax(axis=2), k)                   # (N, C) each
            nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
            np.add.at(dx, (nn, cc, i * s + u, j * s + v), dout[:, :, i, j])
    return dx


# ----------------------------------------------------------------------------- conv2d_backward
def _conv_back(dout, x, w, stride, padding, flip_dw=False, assign=False, crop=True,
               db_axes=(0, 2, 3)):
    p, s = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            g = dout[:, :, i, j]
            dw += np.einsum("nf,nchw->fchw", g, xp[:, :, i * s:i * s + kh, j * s:j * s + kw])
            update = np.einsum("nf,fchw->nchw", g, w)
            if assign:
                dxp[:, :, i * s:i * s + kh, j * s:j * s + kw] = update
            else:
                dxp[:, :, i * s:i * s + kh, j * s:j * s + kw] += update
    h, wd = x.shape[2:]
    dx = dxp[:, :, p:p + h, p:p + wd] if crop else dxp
    return dx, (dw[..., ::-1, ::-1] if flip_dw else dw), dout.sum(axis=db_axes)


@wrong("conv2d_backward", "still includes the padding")
def conv_back_no_crop(dout, x, w, stride=1, padding=0):
    return _conv_back(dout, x, w, stride, padding, crop=False)


@wrong("conv2d_backward", "`dw` is flipped")
def conv_back_dw_flipped(dout, x, w, stride=1, padding=0):
    return _conv_back(dout, x, w, stride, padding, flip_dw=True)


@wrong("conv2d_backward", "summed over the batch and the positions")
def conv_back_db_per_example(dout, x, w, stride=1, padding=0):
    return _conv_back(dout, x, w, stride, padding, db_axes=(2, 3))


@wrong("conv2d_backward", "overwrite")
def conv_back_assign(dout, x, w, stride=1, padding=0):
    return _conv_back(dout, x, w, stride, padding, assign=True)


@right("conv2d_backward")
def conv_back_readable_loops(dout, x, w, stride=1, padding=0):
    p, s = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for n in range(dout.shape[0]):
        for f in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dw[f] += dout[n, f, i, j] * xp[n, :, i * s:i * s + kh, j * s:j * s + kw]
                    dxp[n, :, i * s:i * s + kh, j * s:j * s + kw] += dout[n, f, i, j] * w[f]
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


@wrong("relu_backward", "only the entries where x > 0")
def relu_selected_entries(dout, x):
    return dout[x > 0]


@wrong("linear_backward", "`dx` is transposed")
def linear_dx_transposed(dout, x, w):
    return w.T @ dout.T, dout.T @ x, dout.sum(axis=0)


@wrong("softmax_cross_entropy_backward", "every entry")
def sce_minus_one_everywhere(logits, y):
    return (_softmax(logits) - 1) / len(y)


@wrong("conv2d_backward", "wrong places")
def conv_back_dw_channels_last(dout, x, w, stride=1, padding=0):
    """dw accumulated as (F, KH, KW, C), then reshaped (not transposed) to w's shape."""
    dx, dw, db = _conv_back(dout, x, w, stride, padding)
    return dx, np.ascontiguousarray(dw.transpose(0, 2, 3, 1)).reshape(w.shape), db


@wrong("conv2d_backward", "different orders")
def conv_back_dx_filters_channels_last(dout, x, w, stride=1, padding=0):
    """dx from filters flattened as (KH, KW, C), scattered back as (C, KH, KW) windows."""
    w_mixed = w.transpose(0, 2, 3, 1).reshape(w.shape)
    dx = _conv_back(dout, x, w_mixed, stride, padding)[0]
    return (dx, *_conv_back(dout, x, w, stride, padding)[1:])


@wrong("conv2d_backward", "lower precision")
def conv_back_in_float32(dout, x, w, stride=1, padding=0):
    """Computes in float32 (to be quick), returns the input's dtype."""
    f32 = _conv_back(dout.astype(np.float32), x.astype(np.float32), w.astype(np.float32),
                     stride, padding)
    return tuple(g.astype(x.dtype) for g in f32)
