"""Training on two cores: half of every batch in a second process.

A NumPy training step is a few hundred short calls. BLAS spreads the matrix products over the
cores, but the rest (im2col copies, col2im sums, pooling) runs on one. Two *threads* sharing
the batch barely help: every NumPy call hands the GIL back and forth, and on the course's
2-core VM a LeNet step measured about 100 such hand-offs and ran only 1.4x faster on two
threads. Two *processes* share nothing: each half of the batch ran at its full one-core
speed (``benchmarks/README.md``).

``DataParallel(model)`` keeps a copy of the model in a worker process, as
``torch.nn.parallel.DistributedDataParallel`` does with one process per core. Each step::

    logits = dp.forward(xb)          # first half here, second half in the worker, at once
    loss = loss_fn(logits, yb)       # the whole batch's loss, here
    dp.backward(loss_fn.backward())  # both halves again; then model.grads holds the sum
    optimizer.step(model.grads)      # here, on the model's own arrays

The parameters, the worker's half of the batch, its logits, its half of dlogits and its
gradients travel through one shared-memory buffer (no pickling per step); a pipe carries
only the commands. The gradient of the batch is the sum of the halves' gradients, since the
loss is a mean over the whole batch (dlogits already carries 1/N): the same numbers as one
process, up to float rounding (the sums are added in another order).

Only models whose output for an example depends on that example alone qualify
(``per_example``): Conv2d, pooling, ReLU, Flatten, Linear, Residual and Sequential of them.
BatchNorm2d (batch statistics) and Dropout (a random stream) would change the numbers.
``fit`` uses this when ``course_lib.parallel`` is set to two threads and the model
qualifies (``data_parallel``); each process then runs BLAS on one thread.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from . import parallel
from .layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    GlobalAvgPool2d,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Residual,
)
from .model import Sequential
from .validate import check_array, check_dout

__all__ = ["DataParallel", "data_parallel", "per_example", "MIN_SPLIT_BATCH"]

MIN_SPLIT_BATCH = 16  # smaller batches run here alone: a round trip costs ~0.1 ms
_PER_EXAMPLE = (Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Linear, GlobalAvgPool2d)


def per_example(model: Layer) -> bool:
    """Does each example's output depend on that example alone, with no state changed by
    forward? (Then two halves of a batch give the whole batch's numbers.)"""
    if isinstance(model, Sequential):
        return all(per_example(layer) for layer in model.layers)
    if isinstance(model, Residual):
        return per_example(model.body)
    return type(model) in _PER_EXAMPLE


class _Shared:
    """One file-backed shared buffer, carved into named float arrays (a dict of views)."""

    def __init__(self, sizes: dict[str, int], dtype: np.dtype, path: str | None = None):
        self.sizes, self.dtype = sizes, np.dtype(dtype)
        total = max(1, sum(sizes.values()))
        if path is None:  # the creator: a file in RAM where there is one
            folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
            fd, path = tempfile.mkstemp(prefix="course_lib_dp_", dir=folder)
            os.ftruncate(fd, total * self.dtype.itemsize)
            os.close(fd)
        self.path = path
        self.memory = np.memmap(path, dtype=self.dtype, mode="r+", shape=(total,))
        flat = self.memory.view(np.ndarray)   # plain arrays: no memmap subclass in the ops
        self.views: dict[str, np.ndarray] = {}
        start = 0
        for name, size in sizes.items():
            self.views[name] = flat[start:start + size]
            start += size

    def unlink(self) -> None:
        """Remove the file (both mappings stay valid)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _layout(model: Layer, x_shape: tuple[int, ...], out_features: int, half: int
            ) -> dict[str, int]:
    """Sizes of the shared arrays: every parameter and its gradient, then the worker's half
    of x, of the logits and of dlogits (``half`` examples at most)."""
    sizes = {f"p:{k}": v.size for k, v in model.params.items()}
    sizes.update({f"g:{k}": v.size for k, v in model.params.items()})
    sizes["x"] = half * int(np.prod(x_shape[1:]))
    sizes["out"] = sizes["dout"] = half * out_features
    return sizes


class DataParallel:
    """``model``'s forward and backward on two halves of each batch, the second half in a
    worker process (see the module docstring). Use ``with data_parallel(model) as net``.

    forward(x): x (N, ...) -> logits (N, K), fresh. backward(dout, input_grad=False):
    dout (N, K); afterwards ``model.grads`` holds the whole batch's gradients.
    """

    def __init__(self, model: Sequential):
        if not per_example(model):
            raise ValueError("DataParallel needs a model whose examples do not interact "
                             "(no BatchNorm2d or Dropout); see data_parallel.per_example")
        self.model = model
        self._conn: Connection | None = None
        self._shared: _Shared | None = None
        self._key: tuple | None = None   # (x_shape[1:], out_features, capacity) of _shared
        # of the last forward: (examples that ran here, logits' shape, dtype)
        self._split: tuple[int, tuple[int, ...], np.dtype] = (0, (0,), np.dtype(float))

    @property
    def params(self):
        return self.model.params

    @property
    def grads(self):
        return self.model.grads

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_array(x, "x")
        n = len(x)
        if n < MIN_SPLIT_BATCH:
            out = self.model.forward(x)
            self._split = (n, out.shape, out.dtype)
            return out
        here = (n + 1) // 2
        shared = self._ensure(x, n - here)
        for k, p in self.model.params.items():
            np.copyto(shared.views[f"p:{k}"], p.reshape(-1))
        np.copyto(shared.views["x"][:x[here:].size], x[here:].reshape(-1))
        self._send(("forward", n - here))
        with self._in_step():
            out = self.model.forward(x[:here])
        self._split = (here, (n, out.shape[1]), out.dtype)
        theirs = shared.views["out"][:(n - here) * out.shape[1]].reshape(n - here, -1)
        return np.concatenate([out, theirs])

    def backward(self, dout: np.ndarray, input_grad: bool = False) -> None:
        """Fill ``model.grads`` with the batch's gradients (the input's gradient is not
        computed: ``input_grad`` must be False)."""
        if input_grad:
            raise ValueError("DataParallel.backward computes parameter gradients only: "
                             "call it with input_grad=False")
        here, shape, dtype = self._split
        if here == shape[0]:
            self.model.backward(dout, input_grad=False)
            return
        check_dout(dout, shape, dtype)
        shared = self._shared
        assert shared is not None
        np.copyto(shared.views["dout"][:dout[here:].size], dout[here:].reshape(-1))
        self._send(("backward", len(dout) - here))
        with self._in_step():
            self.model.backward(dout[:here], input_grad=False)
        for k, g in self.model.grads.items():
            g += shared.views[f"g:{k}"].reshape(g.shape)   # the layers' fresh arrays

    def close(self) -> None:
        """Let the worker drop its copy of the model and free the shared buffer."""
        if self._conn is _state["conn"] and _state["owner"] is self:
            with contextlib.suppress(OSError, EOFError):
                self._send(("release",))
                self._receive()
            _state["owner"] = None
        self._shared = self._key = None

    # -- the worker
    def _ensure(self, x: np.ndarray, half: int) -> _Shared:
        """The shared buffer, (re)made for this shape of x, with the worker attached."""
        out_features = self._out_features(x)
        capacity = max(half, self._key[2] if self._key else 0)
        key = (x.shape[1:], out_features, capacity)
        conn = _worker()
        if (conn is not self._conn or _state["owner"] is not self or self._key is None
                or key[:2] != self._key[:2] or half > self._key[2]):
            self._conn, _state["owner"] = conn, self
            shared = _Shared(_layout(self.model, x.shape, out_features, capacity), x.dtype)
            try:   # the model travels once, pickled without its scratch memory and caches
                self._send(("model", self.model, shared.path, shared.sizes, shared.dtype.str,
                            x.shape[1:], out_features))
                self._receive()
            finally:
                shared.unlink()
            self._shared, self._key = shared, key
        assert self._shared is not None
        return self._shared

    def _out_features(self, x: np.ndarray) -> int:
        if self._key is not None and self._key[0] == x.shape[1:]:
            return self._key[1]
        with self.model.evaluating():
            return int(self.model.forward(x[:1]).shape[1])

    def _send(self, message: tuple) -> None:
        assert self._conn is not None
        self._conn.send(message)

    def _receive(self) -> None:
        assert self._conn is not None
        reply = self._conn.recv()
        if reply[0] == "error":
            raise RuntimeError(f"the data-parallel worker failed:\n{reply[1]}")

    @contextlib.contextmanager
    def _in_step(self) -> Iterator[None]:
        """Run this process's half, then wait for the worker's reply; an error here is
        raised as it is (after the reply, which keeps the pipe in step)."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(RuntimeError):
                self._receive()
            raise
        self._receive()


@contextlib.contextmanager
def data_parallel(model: Sequential) -> Iterator[Sequential | DataParallel]:
    """``with data_parallel(model) as net:`` train with ``net.forward`` / ``net.backward``.

    ``net`` is a ``DataParallel`` when ``course_lib.parallel`` is set to two threads and the
    model qualifies (``per_example``), each process then running BLAS and its layers on one
    thread;
    otherwise the model itself. Either way ``model.grads`` holds the batch's gradients.
    """
    if parallel.get_num_threads() < 2 or not per_example(model):
        yield model
        return
    from threadpoolctl import threadpool_limits
    dp = DataParallel(model)
    try:
        with threadpool_limits(1, user_api="blas"), parallel.threads(1):
            yield dp    # each process on one core: BLAS and course_lib's own splits
    finally:
        dp.close()


# -- the worker process: one per parent process, started at first use, reused by every fit
_state: dict = {"owner": None, "process": None, "conn": None}  # owner: whose model it holds


def _worker() -> Connection:
    """The connection to the worker process (started on first use; restarted if it died).

    A plain ``python -m course_lib.data_parallel`` child, not ``multiprocessing``'s: that
    would run the user's script again in the child unless it has an
    ``if __name__ == "__main__":`` guard. BLAS runs on one thread there.
    """
    process = _state["process"]
    if process is None or process.poll() is not None:
        ours, theirs = socket.socketpair()
        one = {k: "1" for k in ("COURSE_LIB_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                "MKL_NUM_THREADS")}
        here = str(Path(__file__).resolve().parents[1])   # where course_lib is, installed or not
        env = {**os.environ, **one,
               "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        _state["process"] = subprocess.Popen(
            [sys.executable, "-m", "course_lib.data_parallel", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        _state["conn"], _state["owner"] = Connection(ours.detach()), None
        if process is None:
            atexit.register(_stop)
    return _state["conn"]


def _stop() -> None:
    """End the worker (at exit)."""
    process, conn = _state["process"], _state["conn"]
    if process is not None and process.poll() is None:
        with contextlib.suppress(OSError):
            conn.send(("stop",))
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
    _state.update(process=None, conn=None, owner=None)


def _serve(conn: Connection) -> None:
    """The worker's loop: run its half of each pass on its copy of the model."""
    model = shared = None
    x_shape: tuple[int, ...] = ()
    out_features = 0
    while True:
        try:
            message = conn.recv()
        except EOFError:   # the parent is gone
            return
        kind = message[0]
        try:
            if kind == "stop":
                return
            if kind == "model":
                model, path, sizes, dtype, x_shape, out_features = message[1:]
                shared = _Shared(sizes, np.dtype(dtype), path)
            elif kind == "release":
                model = shared = None
            elif kind == "forward":
                assert model is not None and shared is not None
                n = message[1]
                for k, p in model.params.items():
                    np.copyto(p, shared.views[f"p:{k}"].reshape(p.shape))
                x = shared.views["x"][:n * int(np.prod(x_shape))].reshape((n,) + x_shape)
                out = model.forward(x)
                np.copyto(shared.views["out"][:out.size], out.reshape(-1))
            elif kind == "backward":
                assert model is not None and shared is not None
                n = message[1]
                model.backward(shared.views["dout"][:n * out_features].reshape(n, -1),
                               input_grad=False)
                for k, g in model.grads.items():
                    np.copyto(shared.views[f"g:{k}"], g.reshape(-1))
            conn.send(("ok",))
        except Exception:  # noqa: BLE001 - reported to the parent, which raises it
            conn.send(("error", traceback.format_exc()))


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
