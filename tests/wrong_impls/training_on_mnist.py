"""Training on MNIST: sgd_momentum_step, accuracy."""

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
