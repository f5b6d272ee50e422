"""Training: the loop, evaluation, analysis, saving and loading, and the command line.

    x_train, y_train, x_val, y_val = train_val_split(x, y, 5000, seed=0)  # choose on x_val
    history = fit(model, CrossEntropyLoss(), Adam(model.params), (x_train, y_train),
                  epochs=3, batch_size=64, val=(x_val, y_val), seed=0)
    loss, acc = evaluate(model, x_test, y_test)   # once, at the very end
    save_model(model, "lenet.npz", test_accuracy=acc)
    model = load_model(WEIGHTS_DIR / "lenet.npz")  # course_lib.paths: the shipped weights

loop       fit, evaluate, predict, History: the training loop and scoring in eval mode
analysis   confusion_matrix, misclassified: what a trained classifier gets wrong
saving     save_model, load_model: weights and metadata in one .npz file
recipes    DEFAULTS (each network's tuned recipe), make_optimizer, make_schedule, the split
cli        main: ``python -m course_lib.train --model lenet --epochs 5 --save lenet.npz``
"""

from .analysis import confusion_matrix, misclassified
from .cli import main
from .loop import History, evaluate, fit, predict
from .recipes import (
    DEFAULTS,
    RESTART_DECAY,
    SPLIT_SEED,
    VAL_SIZE,
    make_optimizer,
    make_schedule,
)
from .saving import load_model, save_model

__all__ = ["History", "fit", "evaluate", "predict", "save_model", "load_model",
           "confusion_matrix", "misclassified", "main", "DEFAULTS", "make_optimizer",
           "make_schedule", "RESTART_DECAY", "VAL_SIZE", "SPLIT_SEED"]
