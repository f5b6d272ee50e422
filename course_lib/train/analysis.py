"""What a trained classifier gets wrong: the confusion matrix and the misclassified examples.

    pred, logits = predict(model, x_val, return_logits=True)
    counts = confusion_matrix(y_val, pred)            # (10, 10): row = true, column = predicted
    worst = misclassified(y_val, pred, logits, limit=16)  # most confident mistakes first
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..validate import check_array, check_int, check_labels

__all__ = ["confusion_matrix", "misclassified"]


def confusion_matrix(y_true: npt.NDArray[np.integer], y_pred: npt.NDArray[np.integer],
                     num_classes: int = 10) -> npt.NDArray[np.int64]:
    """Counts (num_classes, num_classes) int64: row = true class, column = predicted class.

    y_true, y_pred : (N,) integer labels in [0, num_classes).
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    y_true = check_labels(y_true, "y_true", None, num_classes)
    y_pred = check_labels(y_pred, "y_pred", y_true.shape[0], num_classes)
    flat = y_true.astype(np.int64) * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def misclassified(y_true: npt.NDArray[np.integer], y_pred: npt.NDArray[np.integer],
                  probs: npt.NDArray[np.floating] | None = None, *,
                  limit: int | None = None) -> npt.NDArray[np.int64]:
    """Indices of the wrong predictions, (M,) int64.

    y_true, y_pred : (N,) integer labels.
    Without ``probs`` they come in dataset order; with ``probs`` (N, K) (softmax outputs
    or logits) the most confident mistakes come first. ``limit`` keeps the first ``limit``.
    """
    y_true = check_labels(y_true, "y_true")
    y_pred = check_labels(y_pred, "y_pred", y_true.shape[0])
    wrong = np.flatnonzero(y_true != y_pred)
    if probs is not None:
        check_array(probs, "probs", 2, axis_names="(N, num_classes)")
        if probs.shape[0] != y_true.shape[0]:
            raise ValueError(f"probs must have {y_true.shape[0]} rows to match y_true, "
                             f"got shape {probs.shape}")
        confidence = probs[wrong, y_pred[wrong]]
        wrong = wrong[np.argsort(-confidence, kind="stable")]
    if limit is not None:
        wrong = wrong[:check_int(limit, "limit")]
    return wrong.astype(np.int64)
