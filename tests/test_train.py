"""The training loop, evaluation, save/load, analysis helpers and the CLI (small data only)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib import (
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Linear,
    ReLU,
    Sequential,
    parallel,
)
from course_lib.data import load_mnist, normalize
from course_lib.models import MODELS, build_model, lenet, mlp, seed_net
from course_lib.optim import SGD, Adam, StepLR, WarmupCosineLR
from course_lib.paths import WEIGHTS_DIR
from course_lib.train import (
    History,
    confusion_matrix,
    evaluate,
    fit,
    load_model,
    main,
    misclassified,
    predict,
    save_model,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mnist_small():
    """2,000 training and 1,000 test images, normalised float32."""
    d = load_mnist()
    return (normalize(d.x_train[:2000]), d.y_train[:2000].copy(),
            normalize(d.x_test[:1000]), d.y_test[:1000].copy())


def _bn_net(rng=0):
    rng = np.random.default_rng(rng)
    return Sequential(Conv2d(1, 4, 3, rng=rng), BatchNorm2d(4), ReLU(), Dropout(0.5, rng=rng),
                      Flatten(), Linear(4 * 26 * 26, 10, rng=rng))


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", sorted(MODELS))
def test_untrained_models_start_at_chance_level_loss(name, mnist_small):
    """An untrained 10-class net predicts near-uniform probabilities: its first loss is within
    0.3 of ln 10 for any seed (the classifier's small gain; He weights alone give 3-8)."""
    x, y = mnist_small[0][:256], mnist_small[1][:256]
    variants = [{"relu": True}, {}] if name == "seed" else [{}]
    for seed in range(10):
        for options in variants:
            loss = CrossEntropyLoss()(build_model(name, seed, **options)(x), y)
            assert abs(loss - np.log(10)) < 0.3, (name, seed, options, loss)


def test_models_shapes_dtypes_and_seeding():
    x = np.zeros((2, 1, 28, 28), np.float32)
    for name, builder in MODELS.items():
        net = builder(rng=0)
        assert net.forward(x).shape == (2, 10) and net.forward(x).dtype == np.float32
        assert net.arch == name
        same = build_model(name, 0)
        for k, v in net.params.items():
            np.testing.assert_array_equal(v, same.params[k])
        assert build_model(name, 0, dtype=np.float64).forward(x.astype(np.float64)).dtype \
            == np.float64
    assert sum(p.size for p in lenet(0).params.values()) == 117_066
    assert sum(p.size for p in seed_net(0).params.values()) == 13_610
    assert sum(p.size for p in mlp(0).params.values()) == 784 * 256 + 256 + 256 * 64 + 64 \
        + 64 * 10 + 10
    assert len(seed_net(0, relu=True)) == len(seed_net(0)) + 1
    with pytest.raises(ValueError, match="name"):
        build_model("vgg")


# ----------------------------------------------------------------------------- fit
def test_small_cnn_learns_on_2000_images(mnist_small):
    x, y, xt, yt = mnist_small
    model = seed_net(rng=0)
    opt = Adam(model.params, lr=3e-3)
    hist = fit(model, CrossEntropyLoss(), opt, (x, y), epochs=1, batch_size=64, val=(xt, yt),
               seed=0, progress=False)
    assert hist.val_acc[0] > 0.80, hist.val_acc
    assert hist.step_loss[-1] < hist.step_loss[0] / 3


def test_history_records_every_step_and_epoch(mnist_small):
    x, y, xt, yt = mnist_small
    model = seed_net(rng=1)
    opt = SGD(model.params, lr=0.05, momentum=0.9)
    sched = StepLR(opt, step_size=4, gamma=0.5)
    epochs_seen = []
    hist = fit(model, CrossEntropyLoss(), opt, (x[:300], y[:300]), epochs=2, batch_size=64,
               val=(xt[:100], yt[:100]), schedule=sched, seed=0, progress=False,
               on_epoch_end=lambda e, h: epochs_seen.append((e, h.epochs)))
    assert isinstance(hist, History) and hist.steps_per_epoch == 5  # ceil(300 / 64)
    assert len(hist.step_loss) == len(hist.step_acc) == len(hist.lr) == 10
    assert hist.epochs == 2 and len(hist.epoch_time) == len(hist.val_acc) == 2
    assert hist.lr[:5] == [0.05] * 4 + [0.025]  # the lr used by each step
    assert epochs_seen == [(0, 1), (1, 2)]
    # epoch means are the size-weighted means of the step values (last batch has 44 images)
    sizes = np.array([64] * 4 + [44])
    np.testing.assert_allclose(hist.epoch_loss[0], np.dot(hist.step_loss[:5], sizes) / 300)
    np.testing.assert_allclose(hist.epoch_acc[1], np.dot(hist.step_acc[5:], sizes) / 300)
    assert all(0 <= a <= 1 for a in hist.val_acc) and hist.to_dict()["steps_per_epoch"] == 5


def _train_few_steps(x, y, seed):
    rng = np.random.default_rng(seed)
    model = seed_net(rng, relu=True)
    opt = Adam(model.params, lr=1e-3)
    sched = WarmupCosineLR(opt, total_steps=4, warmup_steps=1)
    fit(model, CrossEntropyLoss(), opt, (x, y), epochs=2, batch_size=32, schedule=sched,
        seed=rng, progress=False)
    return model.state_dict()


def test_same_seed_gives_bit_identical_weights(mnist_small):
    x, y = mnist_small[0][:128], mnist_small[1][:128]
    a = _train_few_steps(x, y, seed=7)
    b = _train_few_steps(x, y, seed=7)
    c = _train_few_steps(x, y, seed=8)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_fit_validates_its_arguments(mnist_small):
    x, y = mnist_small[0][:64], mnist_small[1][:64]
    model = seed_net(0)
    opt = SGD(model.params, 0.1)
    loss = CrossEntropyLoss()
    with pytest.raises(TypeError, match="train images must have the model's dtype float32"):
        fit(model, loss, opt, (x.astype(np.float64), y), 1, progress=False)
    with pytest.raises(TypeError, match="train must be a pair"):
        fit(model, loss, opt, x, 1, progress=False)
    with pytest.raises(ValueError, match="train labels must have shape"):
        fit(model, loss, opt, (x, y[:10]), 1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, loss, opt, (x, y), 0, progress=False)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, loss, "adam", (x, y), 1, progress=False)
    with pytest.raises(ValueError, match="same optimizer"):
        fit(model, loss, opt, (x, y), 1, progress=False,
            schedule=StepLR(SGD(model.params, 0.1), 1))
    with pytest.raises(TypeError, match="model"):
        fit(lambda v: v, loss, opt, (x, y), 1, progress=False)
    with pytest.raises(TypeError, match="seed must be an int seed or a numpy.random.Generator"):
        fit(model, loss, opt, (x, y), 1, progress=False, seed=None)  # runs are reproducible
    with pytest.raises(TypeError, match="progress must be True or False, got str"):
        fit(model, loss, opt, (x, y), 1, progress="no")
    with pytest.raises(TypeError, match="loss_fn must be callable with a backward"):
        fit(model, np.mean, opt, (x, y), 1, progress=False)
    with pytest.raises(ValueError, match=r"val labels must have shape \(64,\)"):
        fit(model, loss, opt, (x, y), 1, progress=False, val=(x, y[:10]))
    with pytest.raises(ValueError, match=r"y must be in \[0, 10\), got 10"):
        evaluate(model, x, np.full(64, 10))


def test_fit_progress_bar_runs(mnist_small, capsys):
    x, y = mnist_small[0][:128], mnist_small[1][:128]
    model = seed_net(0)
    fit(model, CrossEntropyLoss(), SGD(model.params, 0.05), (x, y), 1, val=(x, y), seed=0)
    assert "epoch 1/1" in capsys.readouterr().err


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_and_predict_agree_with_a_manual_pass(mnist_small):
    xt, yt = mnist_small[2][:300], mnist_small[3][:300]
    model = seed_net(3)
    logits = model.forward(xt)
    loss, acc = evaluate(model, xt, yt, batch_size=128)  # batches of 128, 128, 44
    assert loss == pytest.approx(CrossEntropyLoss()(logits, yt), rel=1e-5)
    assert acc == pytest.approx(np.mean(logits.argmax(1) == yt))
    classes, out = predict(model, xt, batch_size=64, return_logits=True)
    np.testing.assert_array_equal(classes, logits.argmax(1))
    assert classes.dtype == np.int64 and out.shape == (300, 10)


def test_evaluate_uses_eval_mode_and_restores_the_mode(mnist_small):
    xt, yt = mnist_small[2][:100], mnist_small[3][:100]
    model = _bn_net()
    model.forward(xt)  # training pass: running statistics move
    first = evaluate(model, xt, yt)
    assert evaluate(model, xt, yt) == first  # dropout off, running statistics fixed
    assert model.training and all(layer.training for layer in model.layers)
    model.eval()
    predict(model, xt)
    assert not model.training


# ----------------------------------------------------------------------------- save / load
def test_save_load_round_trip_rebuilds_the_architecture(tmp_path, mnist_small):
    xt = mnist_small[2][:20]
    model = lenet(5)
    path = save_model(model, tmp_path / "lenet.npz", test_accuracy=0.5, note="hi")
    loaded = load_model(path)
    assert loaded.arch == "lenet"
    assert loaded.metadata == {"arch": "lenet", "arch_options": {}, "test_accuracy": 0.5,
                               "note": "hi"}
    np.testing.assert_array_equal(loaded.forward(xt), model.forward(xt))
    seed64 = seed_net(1, relu=True, dtype=np.float64)
    loaded = load_model(save_model(seed64, tmp_path / "s.npz"))
    assert len(loaded) == 5 and loaded.params["0.weight"].dtype == np.float64
    np.testing.assert_array_equal(loaded.params["4.weight"], seed64.params["4.weight"])


def test_save_load_round_trip_with_batchnorm_buffers(tmp_path, mnist_small):
    x = mnist_small[0][:64]
    model = _bn_net(0)
    for _ in range(3):
        model.forward(x)  # move running_mean / running_var away from 0 / 1
    path = save_model(model, tmp_path / "bn.npz", epochs=3)
    with pytest.raises(ValueError, match="model="):
        load_model(path)
    fresh = _bn_net(1)
    load_model(path, model=fresh)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)
    assert np.any(fresh.buffers["1.running_mean"] != 0)
    np.testing.assert_array_equal(fresh.eval().forward(x), model.eval().forward(x))
    assert fresh.metadata["epochs"] == 3


def test_save_load_validation(tmp_path):
    model = lenet(0)
    with pytest.raises(TypeError, match="JSON"):
        save_model(model, tmp_path / "m.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match=".npz"):
        save_model(model, tmp_path / "m.pkl")
    with pytest.raises(ValueError, match="arch"):
        save_model(model, tmp_path / "m.npz", arch="vgg")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="save_model"):
        load_model(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="keys do not match"):
        load_model(save_model(model, tmp_path / "m.npz"), model=_bn_net())


# ----------------------------------------------------------------------------- analysis
def test_confusion_matrix_counts():
    y = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(confusion_matrix(y, p, 3),
                                  [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert confusion_matrix(y, p, 3).sum() == 6
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix(y, p + 1, 3)
    with pytest.raises(TypeError, match="y_true"):
        confusion_matrix([0, 1], p, 3)


def test_misclassified_orders_by_confidence():
    y = np.array([0, 1, 2, 1, 0])
    p = np.array([0, 2, 2, 0, 1])
    np.testing.assert_array_equal(misclassified(y, p), [1, 3, 4])
    probs = np.full((5, 3), 0.1)
    probs[[1, 3, 4], [2, 0, 1]] = [0.5, 0.9, 0.7]
    np.testing.assert_array_equal(misclassified(y, p, probs), [3, 4, 1])
    np.testing.assert_array_equal(misclassified(y, p, probs, limit=1), [3])
    with pytest.raises(ValueError, match="probs"):
        misclassified(y, p, probs[:2])
    with pytest.raises(ValueError, match="y_true must be >= 0, got -1"):
        misclassified(y - 1, p)
    with pytest.raises(ValueError, match=r"y_pred must have shape \(5,\) to match"):
        misclassified(y, p[:4])


# ----------------------------------------------------------------------------- CLI
def test_cli_trains_saves_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "seed.npz"
    hist = main(["--model", "seed", "--epochs", "2", "--limit", "256", "--val-size", "56",
                 "--no-progress", "--test", "--save", str(out)])
    text = capsys.readouterr().out
    assert "200 training / 56 validation images" in text
    assert "epoch | time (s) | train loss | train acc | val loss | val acc" in text
    assert "test accuracy (scored once)" in text
    assert text.count("%") >= 5 and "saved" in text and hist.epochs == 2
    model = load_model(out)
    meta = model.metadata
    assert meta["command"] == ("python -m course_lib.train --model seed --epochs 2 --limit 256 "
                               f"--val-size 56 --no-progress --test --save {out}")
    assert meta["val_accuracy"] == hist.val_acc[-1] and meta["history"]["val_acc"] \
        == hist.val_acc
    assert meta["val_size"] == 56 and 0 <= meta["test_accuracy"] <= 1
    assert meta["arch"] == "seed" and meta["dtype"] == "float32"


def test_cli_threads_2_trains_on_two_cores_to_the_same_numbers(capsys):
    """--threads 2 trains data-parallel (a worker process takes half of each batch): the
    same run up to float32 rounding, and the thread setting is restored afterwards."""
    flags = ["--model", "lenet", "--epochs", "1", "--limit", "320", "--val-size", "64",
             "--no-progress"]
    one = main(flags + ["--threads", "1"])
    two = main(flags + ["--threads", "2"])
    capsys.readouterr()
    np.testing.assert_allclose(two.step_loss, one.step_loss, rtol=1e-3)
    assert parallel.get_num_threads() == 1


def test_cli_module_entry_point_with_sgd_and_progress(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.train", "--model", "seed", "--epochs", "1",
         "--limit", "128", "--val-size", "28", "--optimizer", "sgd", "--lr", "0.01",
         "--schedule", "step",
         "--dtype", "float64"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "SGD(lr=0.01, momentum=0.9" in result.stdout and "float64" in result.stdout
    assert "final validation accuracy" in result.stdout and "epoch 1/1" in result.stderr
    assert "test" not in result.stdout.lower()  # no --test: the test set is not touched
    bad = subprocess.run([sys.executable, "-m", "course_lib.train", "--model", "vgg"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_cli_rejects_bad_numbers(capsys):
    for argv, message in ((["--epochs", "0"], "--epochs must be >= 1"),
                          (["--lr", "-1"], "--lr must be > 0"),
                          (["--val-size", "0"], "--val-size must be >= 1"),
                          (["--limit", "100", "--val-size", "100"], "--val-size must be < 100")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("name, min_acc", [("lenet", 0.985), ("seed", 0.96)])
def test_shipped_weights_load_and_classify(name, min_acc, mnist_small):
    model = load_model(WEIGHTS_DIR / f"{name}.npz")
    meta = model.metadata
    assert model.arch == name and meta["command"].startswith("python -m course_lib.train")
    assert f"--model {name}" in meta["command"] and meta["dtype"] == "float32"
    _, acc = evaluate(model, mnist_small[2], mnist_small[3])  # the first 1,000 test images
    assert acc >= min_acc, acc
