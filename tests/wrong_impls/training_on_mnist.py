"""Training on MNIST: sgd_momentum_step, accuracy, and the blog CNN's four functions
(blog_fc_in_features, blog_softmax, blog_maxpool_backward, blog_conv_backward_weights)."""

import numpy as np

from ._gallery import right, wrong


@wrong("sgd_momentum_step", "other momentum convention")
def sgd_lr_inside(param, grad, velocity, lr, momentum):
    v = momentum * velocity - lr * grad
    return param + v, v


@wrong("sgd_momentum_step", "dampening")
def sgd_dampening(param, grad, velocity, lr, momentum):
    v = momentum * velocity + (1 - momentum) * grad
    return param - lr * v, v


@wrong("sgd_momentum_step", "update the velocity first")
def sgd_old_velocity(param, grad, velocity, lr, momentum):
    new_param = param - lr * velocity
    return new_param, momentum * velocity + grad


@wrong("sgd_momentum_step", "in place")
def sgd_in_place(param, grad, velocity, lr, momentum):
    velocity *= momentum
    velocity += grad
    param -= lr * velocity
    return param, velocity


@wrong("sgd_momentum_step", "nesterov")
def sgd_nesterov(param, grad, velocity, lr, momentum):
    v = momentum * velocity + grad
    return param - lr * (grad + momentum * v), v


@right("sgd_momentum_step")
def sgd_copies(param, grad, velocity, lr, momentum):
    v = velocity.copy()
    v *= momentum
    v += grad
    p = param.copy()
    p -= lr * v
    return p, v


# ----------------------------------------------------------------------------- accuracy
@wrong("accuracy", "number of correct")
def accuracy_count(logits, y):
    return int(np.sum(np.argmax(logits, axis=1) == y))


@wrong("accuracy", "percentage")
def accuracy_percent(logits, y):
    return 100 * np.mean(np.argmax(logits, axis=1) == y)


@wrong("accuracy", "error rate")
def accuracy_error_rate(logits, y):
    return np.mean(np.argmax(logits, axis=1) != y)


@wrong("accuracy", "largest logit")
def accuracy_argmin(logits, y):
    return np.mean(np.argmin(logits, axis=1) == y)


@right("accuracy")
def accuracy_loop(logits, y):
    right_answers = 0
    for row, label in zip(logits, y, strict=True):
        right_answers += int(np.argmax(row) == label)
    return right_answers / len(y)


@wrong("sgd_momentum_step", "return the new parameter first")
def sgd_swapped_outputs(param, grad, velocity, lr, momentum):
    v = momentum * velocity + grad
    return v, param - lr * v


@wrong("accuracy", "without an axis")
def accuracy_flat_argmax(logits, y):
    return float(np.mean(np.argmax(logits) == y))


# ------------------------------------------------ sgd: lr * grad in the velocity, not dampening
@wrong("sgd_momentum_step", "learning rate inside the velocity")
def sgd_lr_times_grad_in_velocity(param, grad, velocity, lr, momentum):
    v = momentum * velocity + lr * grad
    return param - v, v


@wrong("sgd_momentum_step", "learning rate inside the velocity")
def sgd_lr_twice(param, grad, velocity, lr, momentum):
    v = momentum * velocity + lr * grad
    return param - lr * v, v


@wrong("accuracy", "integer division")
def accuracy_integer_division(logits, y):
    return int(np.sum(np.argmax(logits, axis=1) == y)) // len(y)


# ============================================================ the blog's CNN (debugging exercise)
# -------------------------------------------------------------------------- blog_fc_in_features
@wrong("blog_fc_in_features", "'same'")
def fc_in_as_if_same(height, width, kernel_size, channels):  # the planted bug
    return channels * (height // 2 // 2) * (width // 2 // 2)


@wrong("blog_fc_in_features", "rounds down")
def fc_in_ceil_pool(height, width, kernel_size, channels):
    for _ in range(2):
        height = (height - kernel_size + 2) // 2
        width = (width - kernel_size + 2) // 2
    return channels * height * width


@wrong("blog_fc_in_features", "the second one does too")
def fc_in_first_conv_only(height, width, kernel_size, channels):
    return channels * ((height - kernel_size + 1) // 4) * ((width - kernel_size + 1) // 4)


@wrong("blog_fc_in_features", "3 x 3 kernels only")
def fc_in_hard_coded_kernel(height, width, kernel_size, channels):
    return channels * (((height - 2) // 2 - 2) // 2) * (((width - 2) // 2 - 2) // 2)


@wrong("blog_fc_in_features", "not H - k")
def fc_in_off_by_one(height, width, kernel_size, channels):
    h, w = (height - kernel_size) // 2, (width - kernel_size) // 2
    return channels * ((h - kernel_size) // 2) * ((w - kernel_size) // 2)


@wrong("blog_fc_in_features", "need not be square")
def fc_in_square(height, width, kernel_size, channels):
    side = ((height - kernel_size + 1) // 2 - kernel_size + 1) // 2
    return channels * side * side


@right("blog_fc_in_features")
def fc_in_conv_then_pool(height, width, kernel_size, channels):
    def conv(n):
        return n - (kernel_size - 1)

    def pool(n):
        return int(np.floor(n / 2))

    return channels * pool(conv(pool(conv(height)))) * pool(conv(pool(conv(width))))


# ----------------------------------------------------------------------------- blog_softmax
@wrong("blog_softmax", "overflows")
def softmax_unshifted(logits):  # the planted bug
    exps = np.exp(logits)
    return exps / np.sum(exps)


@wrong("blog_softmax", "something other than the largest")
def softmax_minus_mean(logits):
    exps = np.exp(logits - logits.mean())
    return exps / exps.sum()


@wrong("blog_softmax", "something other than the largest")
def softmax_minus_min(logits):
    exps = np.exp(logits - np.min(logits))
    return exps / exps.sum()


@wrong("blog_softmax", "numerator only")
def softmax_numerator_only(logits):
    return np.exp(logits - np.max(logits)) / np.sum(np.exp(logits))


@wrong("blog_softmax", "clipping")
def softmax_clipped(logits):
    exps = np.exp(np.clip(logits, -50, 50))
    return exps / exps.sum()


@wrong("blog_softmax", "log-softmax")
def softmax_log(logits):
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


@right("blog_softmax")
def softmax_logsumexp(logits):
    top = np.max(logits)
    return np.exp(logits - top - np.log(np.sum(np.exp(logits - top))))


# ------------------------------------------------------------------------ blog_maxpool_backward
@wrong("blog_maxpool_backward", "all 4 of its cells")
def pool_back_ones_block(dout, x):  # the planted bug: a transposed convolution with ones
    dx = np.zeros(x.shape)
    ones = np.ones((2, 2))
    oh, ow = dout.shape[1:]
    for c in range(x.shape[0]):
        dx[c, :2 * oh, :2 * ow] = np.kron(dout[c], ones)
    return dx


@wrong("blog_maxpool_backward", "average pooling")
def pool_back_average(dout, x):
    dx = np.zeros_like(x)
    oh, ow = dout.shape[1:]
    dx[:, :2 * oh, :2 * ow] = dout.repeat(2, axis=1).repeat(2, axis=2) / 4
    return dx


def _pool_back_loop(dout, x, hit):
    dx = np.zeros_like(x)
    for c in range(dout.shape[0]):
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                window = x[c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                dx[c, 2 * i:2 * i + 2, 2 * j:2 * j + 2] = hit(window) * dout[c, i, j]
    return dx


@wrong("blog_maxpool_backward", "every maximum")
def pool_back_all_ties(dout, x):
    return _pool_back_loop(dout, x, lambda window: window == window.max())


@wrong("blog_maxpool_backward", "last maximum")
def pool_back_last_tie(dout, x):
    def last(window):
        hit = np.zeros(4, dtype=bool)
        hit[3 - np.argmax(window.ravel()[::-1])] = True
        return hit.reshape(2, 2)
    return _pool_back_loop(dout, x, last)


@wrong("blog_maxpool_backward", "transposed place")
def pool_back_transposed(dout, x):
    def transposed(window):
        k = np.argmax(window)
        hit = np.zeros((2, 2), dtype=bool)
        hit[k % 2, k // 2] = True
        return hit
    return _pool_back_loop(dout, x, transposed)


@wrong("blog_maxpool_backward", "shape of x")
def pool_back_even_only(dout, x):
    c, oh, ow = dout.shape
    return _pool_back_loop(dout, x[:, :2 * oh, :2 * ow],
                           lambda w: np.arange(4).reshape(2, 2) == np.argmax(w))


@right("blog_maxpool_backward")
def pool_back_first_argmax(dout, x):
    return _pool_back_loop(dout, x, lambda w: np.arange(4).reshape(2, 2) == np.argmax(w))


# ------------------------------------------------------------------- blog_conv_backward_weights
def _conv_dw_loop(dout, x, product_sum):
    n_filters, oh, ow = dout.shape
    k = x.shape[1] - oh + 1
    dw = np.zeros((n_filters, x.shape[0], k, k), dtype=x.dtype)
    for f in range(n_filters):
        for i in range(k):
            for j in range(k):
                dw[f, :, i, j] = product_sum(dout[f], x[:, i:i + oh, j:j + ow])
    return dw


@wrong("blog_conv_backward_weights", "channel axis too")
def conv_dw_summed_over_channels(dout, x):  # the planted bug
    return _conv_dw_loop(dout, x, lambda d, window: np.sum(d * window))


@wrong("blog_conv_backward_weights", "channel axis too")
def conv_dw_wrong_axes(dout, x):
    return _conv_dw_loop(dout, x, lambda d, window: (d * window).sum(axis=(0, 1, 2)))


@wrong("blog_conv_backward_weights", "flipped")
def conv_dw_flipped(dout, x):
    return _conv_dw_loop(dout, x, lambda d, window: np.sum(d * window, axis=(1, 2)))[..., ::-1,
                                                                                     ::-1]


@wrong("blog_conv_backward_weights", "averaged over the output positions")
def conv_dw_mean(dout, x):
    return _conv_dw_loop(dout, x, lambda d, window: np.mean(d * window, axis=(1, 2)))


@wrong("blog_conv_backward_weights", "rows with the window's columns")
def conv_dw_crossed_axes(dout, x):
    return _conv_dw_loop(dout, x, lambda d, window: np.tensordot(window, d, axes=([1, 2],
                                                                                   [1, 0])))


@wrong("blog_conv_backward_weights", "first two swapped")
def conv_dw_channels_first(dout, x):
    return _conv_dw_loop(dout, x, lambda d, window: np.sum(d * window, axis=(1, 2))).transpose(
        1, 0, 2, 3)


@right("blog_conv_backward_weights")
def conv_dw_per_channel_loop(dout, x):
    n_filters, oh, ow = dout.shape
    channels, k = x.shape[0], x.shape[1] - oh + 1
    dw = np.zeros((n_filters, channels, k, k), dtype=x.dtype)
    for f in range(n_filters):
        for c in range(channels):
            for i in range(k):
                for j in range(k):
                    dw[f, c, i, j] = np.sum(dout[f] * x[c, i:i + oh, j:j + ow])
    return dw
