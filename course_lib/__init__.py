"""CNNs from Scratch: the NumPy library behind the course.

functional  fast vectorized ops (NCHW) with forward/backward pairs
readable    the same conv and pooling ops as plain loops (what the lessons explain)
layers      Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Linear, Dropout, BatchNorm2d,
            CrossEntropyLoss, GlobalAvgPool2d, Residual
model       Sequential
gradcheck   numerical gradient checks with a relative-error report
data        MNIST / Fashion-MNIST loading (bundled, or downloaded with checksums), minibatches

Imported on demand (they pull in matplotlib / ipywidgets / nbformat):
optim, train, models, viz, widgets, checks, assign, grade, slides
"""

from . import data, functional, gradcheck, readable
from .layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Residual,
)
from .model import Sequential

__version__ = "0.1.0"

__all__ = ["data", "functional", "readable", "gradcheck", "Layer", "Conv2d", "MaxPool2d",
           "AvgPool2d", "ReLU", "Flatten", "Linear", "Dropout", "BatchNorm2d", "CrossEntropyLoss",
           "Sequential", "GlobalAvgPool2d", "Residual"]
