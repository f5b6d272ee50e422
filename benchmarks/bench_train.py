"""Training on MNIST: seconds per epoch and validation accuracy, NumPy vs PyTorch CPU.

    .venv/bin/python benchmarks/bench_train.py                 # seed 3 epochs, LeNet 5 epochs
    .venv/bin/python benchmarks/bench_train.py --models lenet --epochs 1 --threads 1

Both models train in float32 at batch 64 with the CLI's tuned optimiser and schedule
(``course_lib.train.DEFAULTS``) on the CLI's 55,000 training images, and are scored after every
epoch on its 5,000 held-out validation images (``train.VAL_SIZE``, ``train.SPLIT_SEED``); the
test set is not used here. When PyTorch is installed the same net is trained in
PyTorch too, from the same initial weights (copied), on the same batches in the same order,
with the same optimiser and the same learning rate at every step. ``--threads N`` gives both
N threads: PyTorch's, NumPy's BLAS and course_lib's own (``course_lib.parallel``; with two,
``fit`` trains LeNet data-parallel, half of each batch in a second process with one BLAS
thread each: ``course_lib.data_parallel``). The two take
turns epoch by epoch, so that both meet about the same load on a shared machine. The table
shows both, the time ratio NumPy / PyTorch and the load average after each epoch.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np

from course_lib import Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, ReLU, parallel
from course_lib.data import iterate_minibatches, load_mnist, normalize, train_val_split
from course_lib.data_parallel import per_example
from course_lib.models import build_model
from course_lib.train import DEFAULTS, SPLIT_SEED, VAL_SIZE, fit, make_optimizer, make_schedule

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None

try:
    import threadpoolctl
except ImportError:  # optional: without it the BLAS thread count is only estimated
    threadpoolctl = None


def blas_threads() -> int:
    """Threads NumPy's BLAS uses (threadpoolctl if installed, else the environment)."""
    if threadpoolctl is not None:
        counts = [p["num_threads"] for p in threadpoolctl.threadpool_info()
                  if p.get("user_api") == "blas"]
        if counts:
            return max(counts)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def torch_copy(model):
    """The same architecture as a torch.nn.Sequential, with the same weights."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, Conv2d):
            f, c = layer.params["weight"].shape[:2]
            layers.append(torch.nn.Conv2d(c, f, layer.kernel_size, layer.stride, layer.padding,
                                          layer.dilation, bias="bias" in layer.params))
        elif isinstance(layer, Linear):
            d_out, d_in = layer.params["weight"].shape
            layers.append(torch.nn.Linear(d_in, d_out, bias="bias" in layer.params))
        elif isinstance(layer, MaxPool2d):
            layers.append(torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding))
        elif isinstance(layer, ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, Flatten):
            layers.append(torch.nn.Flatten())
        else:
            raise TypeError(f"no PyTorch twin for {type(layer).__name__}")
    net = torch.nn.Sequential(*layers)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return net


class TorchRun:
    """Trains ``net`` like ``fit`` does, one epoch per ``epoch()`` call."""

    def __init__(self, net, name, opt_name, lr, total_steps, warmup, steps_per_epoch, data,
                 batch_size, seed):
        self.net, self.data, self.batch_size = net, data, batch_size
        if opt_name == "adam":
            self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        else:
            self.opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        # the learning rate of every step from our schedule, so both runs use the same one
        from course_lib.optim import SGD as _SGD
        ours = make_schedule(DEFAULTS[name]["schedule"], _SGD({"w": np.zeros(1)}, lr),
                             total_steps, warmup=warmup, steps_per_epoch=steps_per_epoch)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, (lambda t: ours.lr_at(t) / lr) if ours is not None else (lambda t: 1.0))
        self.rng = np.random.default_rng(seed)   # the batch order of fit(seed=seed)

    def epoch(self):
        """One epoch; returns (training seconds, validation accuracy)."""
        x, y, xt, yt = self.data
        net = self.net
        net.train()
        start = time.perf_counter()
        for xb, yb in iterate_minibatches(x, y, self.batch_size, shuffle=True, seed=self.rng):
            self.opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(xb)),
                                                     torch.from_numpy(yb))
            loss.backward()
            self.opt.step()
            self.sched.step()
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            xt_t = torch.from_numpy(xt)
            pred = torch.cat([net(xt_t[i:i + 1000]).argmax(1) for i in range(0, len(xt), 1000)])
        return seconds, float((pred == torch.from_numpy(yt)).float().mean())


def bench(name, epochs, data, args):
    """Train the NumPy net and its PyTorch twin, taking turns epoch by epoch (both see the
    machine's load at about the same time); print a row per epoch as it ends."""
    x, y, xt, yt = data
    defaults = DEFAULTS[name]
    rng = np.random.default_rng(args.seed)
    model = build_model(name, rng)
    twin = torch_copy(model) if torch is not None and not args.no_torch else None
    opt = make_optimizer(defaults["optimizer"], model.params, defaults["lr"])
    opt_repr = repr(opt)  # before the schedule sets the lr of step 0
    steps = math.ceil(len(x) / args.batch_size)
    sched = make_schedule(defaults["schedule"], opt, epochs * steps, warmup=defaults["warmup"],
                          steps_per_epoch=steps)
    batch_seed = int(rng.integers(2**31))  # fit's and PyTorch's batch order
    batch_order = np.random.default_rng(batch_seed)  # one generator across fit's calls
    torch_run = None if twin is None else TorchRun(
        twin, name, defaults["optimizer"], defaults["lr"], epochs * steps, defaults["warmup"],
        steps, data, args.batch_size, batch_seed)
    how = ("data-parallel: 2 processes with 1 BLAS thread each"
           if parallel.get_num_threads() >= 2 and per_example(model) else "one process")
    print(f"\n{name}: {opt_repr}, {sched!r}; NumPy {how}", flush=True)
    head = "| epoch | NumPy s/epoch | NumPy val acc |"
    if twin is not None:
        head += " PyTorch s/epoch | PyTorch val acc | time ratio |"
    print(head + " load |\n|" + "|".join("---" for _ in range(head.count("|"))) + "|",
          flush=True)
    times, t_times = [], []
    for e in range(epochs):
        hist = fit(model, CrossEntropyLoss(), opt, (x, y), 1, args.batch_size, val=(xt, yt),
                   schedule=sched, seed=batch_order, progress=False)
        times.append(hist.epoch_time[0])
        row = f"| {e + 1} | {times[-1]:.1f} | {hist.val_acc[0]:.2%} |"
        if torch_run is not None:
            seconds, acc = torch_run.epoch()
            t_times.append(seconds)
            row += f" {seconds:.1f} | {acc:.2%} | {times[-1] / seconds:.2f}x |"
        print(row + f" {os.getloadavg()[0]:.1f} |", flush=True)
    mean = f"| mean | {np.mean(times):.1f} | |"
    if twin is not None:
        mean += f" {np.mean(t_times):.1f} | | {np.mean(times) / np.mean(t_times):.2f}x |"
    print(mean + " |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", choices=sorted(DEFAULTS), default=["seed", "lenet"])
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per model (default: seed 3, lenet 5)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="N threads for NumPy's BLAS (needs threadpoolctl), course_lib "
                        "(two: data-parallel training) and PyTorch")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    args = p.parse_args()
    if args.threads is not None:
        if threadpoolctl is None:
            p.error("--threads needs threadpoolctl (pip install threadpoolctl)")
        threadpoolctl.threadpool_limits(args.threads, user_api="blas")
        parallel.set_num_threads(args.threads)
    n_threads = blas_threads()
    if torch is not None:
        torch.set_num_threads(n_threads)
    d = load_mnist()
    x, y, x_val, y_val = train_val_split(d.x_train, d.y_train, VAL_SIZE, seed=SPLIT_SEED)
    x, y = x[:args.limit], y[:args.limit]
    data = (normalize(x), y.copy(), normalize(x_val), y_val.copy())
    print(f"MNIST: {len(x)} training / {len(x_val)} validation images, float32, batch "
          f"{args.batch_size}; NumPy {np.__version__} with {n_threads} BLAS thread(s) and "
          f"{parallel.get_num_threads()} course_lib thread(s); "
          + (f"PyTorch {torch.__version__} with {torch.get_num_threads()} thread(s); "
             if torch is not None and not args.no_torch else "PyTorch not used; ")
          + f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name in args.models:
        epochs = args.epochs or {"mlp": 3, "seed": 3, "lenet": 5}[name]
        bench(name, epochs, data, args)


if __name__ == "__main__":
    main()
