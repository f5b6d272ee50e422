"""MNIST and Fashion-MNIST as NumPy arrays, plus the small helpers the training loops use.

``load_mnist()`` takes each of the four official files from the first folder that has it:

1. ``data_dir=``, else the checkout's ``data/<dataset>/`` (MNIST is bundled there);
2. ``cache_dir=``, else the data folder outside a checkout (``course_lib.paths.user_data_dir``:
   ``$CNNS_DATA_DIR``, else ``$XDG_CACHE_HOME/cnns-from-scratch``, else
   ``~/.cache/cnns-from-scratch``), ``<dataset>/`` inside it;

and downloads what is still missing into the folder of step 2 from a list of mirrors. Every file
is checked against its SHA-256 (``SHA256``, the same as ``data/<dataset>/SHA256SUMS``) before it
is parsed, so a corrupt or half-downloaded file is never used.

Shapes: images are ``(N, 28, 28)`` uint8 in [0, 255], labels ``(N,)`` int64 in [0, 9].
``normalize`` turns images into ``(N, 1, 28, 28)`` floats (NCHW), the layout the layers use.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .files import atomic_open
from .paths import DATA_DIR, DATA_ENV, user_data_dir
from .validate import (
    as_rng,
    check_array,
    check_bool,
    check_dtype,
    check_int,
    check_path,
    check_real,
)

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
SHA256 = {  # of the official .gz files; data/<dataset>/SHA256SUMS lists the same
    "mnist": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the training pixels, on the [0, 1] scale
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
_IDX_DTYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
               0x0E: "float64"}
_CHUNK = 1 << 20
_USER_AGENT = "cnns-from-scratch-course (Python urllib)"


class MNISTData(NamedTuple):
    """The four arrays of a dataset. They are read-only (shared between calls): ``.copy()``.

    x_train : (60000, 28, 28) uint8        y_train : (60000,) int64
    x_test  : (10000, 28, 28) uint8        y_test  : (10000,) int64
    """

    x_train: npt.NDArray[np.uint8]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.uint8]
    y_test: npt.NDArray[np.int64]


class DownloadError(OSError):
    """No mirror delivered a file with the expected SHA-256."""


# --------------------------------------------------------------------------- IDX files

def read_idx(path: str | os.PathLike) -> npt.NDArray[np.uint8]:
    """Parse an IDX file of unsigned bytes (gzip-compressed or raw) into a uint8 array.

    Returns a read-only array with the header's shape: (N, 28, 28) for MNIST images, (N,) for
    labels. Raises ValueError naming the file if it is not a well-formed uint8 IDX file (wrong
    magic number or dtype byte, truncated header or payload, extra bytes, bad gzip stream).
    """
    path = check_path(path, "path")
    return _parse_idx(path.read_bytes(), path)


def _parse_idx(data: bytes, path: Path) -> npt.NDArray[np.uint8]:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip stream "
                             f"({type(exc).__name__}: {exc})") from None
    if len(data) < 4 or data[:2] != b"\x00\x00":
        magic = data[:4].hex(" ") or "an empty file"
        raise ValueError(f"{path}: not an IDX file: expected magic bytes 00 00 08 <ndim>, "
                         f"found {magic}")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: expected IDX dtype byte 0x08 (uint8), found 0x{dtype_code:02x}"
                         f" ({_IDX_DTYPES.get(dtype_code, 'not a valid IDX dtype')})")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ValueError(f"{path}: bad IDX header: expected >= 1 dimension and {header} header "
                         f"bytes for ndim={ndim}, found {len(data)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected, found = math.prod(dims), len(data) - header
    if found != expected:
        problem = "truncated" if found < expected else "has extra bytes"
        raise ValueError(f"{path}: IDX payload {problem}: expected {expected} bytes for shape "
                         f"{dims}, found {found}")
    return np.frombuffer(data, np.uint8, count=expected, offset=header).reshape(dims)


@functools.lru_cache(maxsize=16)
def _parse_verified(path: str, version: tuple, sha256: str) -> npt.NDArray[np.uint8] | None:
    """Parse ``path`` if its SHA-256 is ``sha256``, else None; cached per file version."""
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    return _parse_idx(data, Path(path))


def _load_if_valid(path: Path, sha256: str) -> npt.NDArray[np.uint8] | None:
    if not path.is_file():
        return None
    st = path.stat()
    array = _parse_verified(str(path.resolve()), (st.st_mtime_ns, st.st_size, st.st_ino), sha256)
    if array is None:
        warnings.warn(f"ignoring {path}: its SHA-256 is not the expected {sha256}",
                      RuntimeWarning, stacklevel=4)
    return array


# --------------------------------------------------------------------------- downloads

def _fetch(url: str, dest: Path, sha256: str, timeout: float) -> None:
    """Download ``url`` to ``dest`` (atomically: all of it or nothing), only if it verifies."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as resp, atomic_open(dest) as out:
        length = resp.headers.get("Content-Length")
        digest, size = hashlib.sha256(), 0
        while chunk := resp.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        if length is not None and size != int(length):
            raise ValueError(f"truncated response: got {size} of {length} bytes")
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 mismatch: expected {sha256}, got {digest.hexdigest()}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    return f"{type(exc).__name__}: {exc}"


def _download(name: str, folder: Path, sha256: str, mirrors: Sequence[str],
              timeout: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for base in mirrors:
        url = base + ("" if base.endswith("/") else "/") + name
        try:
            _fetch(url, folder / name, sha256, timeout)
            return folder / name
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(f"  {url}: {_reason(exc)}")
    raise DownloadError(f"could not download {name} from any of {len(failures)} mirror(s):\n"
                        + "\n".join(failures)
                        + f"\n(or put a copy with SHA-256 {sha256} in {folder} by hand)")


# --------------------------------------------------------------------------- loading

def load_mnist(dataset: str = "mnist", *, data_dir: str | os.PathLike | None = None,
               cache_dir: str | os.PathLike | None = None, download: bool = True,
               mirrors: Sequence[str] | str | None = None,
               checksums: Mapping[str, str] | None = None, timeout: float = 30.0) -> MNISTData:
    """Load MNIST or Fashion-MNIST; parsed arrays are kept in memory for the next call.

    Each file is taken from ``data_dir``, else from ``<cache_dir>/<dataset>/``, else
    downloaded there (atomically) from the first mirror that delivers it intact.

    Parameters
    ----------
    dataset : "mnist" or "fashion-mnist".
    data_dir : a folder holding the dataset's files; default the checkout's
        ``data/<dataset>/`` (``course_lib.paths.DATA_DIR``), none outside a checkout.
    cache_dir : the data folder that downloads go to, one subfolder per dataset; default
        ``course_lib.paths.user_data_dir()`` (``$CNNS_DATA_DIR``, else the user's cache).
    download : if False, raise FileNotFoundError instead of downloading.
    mirrors : base URLs tried in order; default ``MIRRORS[dataset]``.
    checksums : {file name: SHA-256 hex}; default ``SHA256[dataset]``.
    timeout : seconds allowed for each network operation.

    Returns
    -------
    MNISTData(x_train, y_train, x_test, y_test), read-only: images (N, 28, 28) uint8,
    labels (N,) int64 in [0, 9]; N = 60000 for train and 10000 for test.
    """
    if not isinstance(dataset, str) or dataset not in MIRRORS:
        raise ValueError(f"dataset must be one of {sorted(MIRRORS)}, got {dataset!r}")
    if data_dir is not None:
        folders = [check_path(data_dir, "data_dir").expanduser()]
    else:
        folders = [DATA_DIR / dataset] if DATA_DIR is not None else []
    cache = (user_data_dir() if cache_dir is None
             else check_path(cache_dir, "cache_dir").expanduser()) / dataset
    download = check_bool(download, "download")
    mirrors = MIRRORS[dataset] if mirrors is None else [mirrors] if isinstance(mirrors, str) \
        else mirrors
    if not isinstance(mirrors, Sequence) or not all(isinstance(m, str) for m in mirrors):
        raise TypeError(f"mirrors must be a list of URL strings, got {mirrors!r}")
    if not mirrors:
        raise ValueError("mirrors must list at least one URL, got an empty list")
    checksums = SHA256[dataset] if checksums is None else checksums
    if not isinstance(checksums, Mapping):
        raise TypeError(f"checksums must be a mapping {{file name: sha256}}, got {checksums!r}")
    timeout = check_real(timeout, "timeout", positive=True)

    arrays: dict[str, np.ndarray] = {}
    for key, name in FILES.items():
        sha256 = checksums.get(name)
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise ValueError(f"checksums must give a 64-hex-digit SHA-256 for {name}, "
                             f"got {sha256!r}")
        arrays[key] = _locate(name, sha256.lower(), [*folders, cache], download, mirrors,
                              timeout)
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or (y.size and y.max() > 9):
            raise ValueError(f"{dataset} {split} files are inconsistent: images {x.shape}, "
                             f"labels {y.shape} with maximum {y.max(initial=0)}")
        arrays[f"y_{split}"] = y.astype(np.int64)
        arrays[f"y_{split}"].flags.writeable = False
    return MNISTData(**arrays)


def _locate(name: str, sha256: str, folders: list[Path], download: bool,
            mirrors: Sequence[str], timeout: float) -> npt.NDArray[np.uint8]:
    """The parsed file from the first of ``folders`` that has it intact, else downloaded into
    the last one."""
    for folder in folders:
        array = _load_if_valid(folder / name, sha256)
        if array is not None:
            return array
    cache = folders[-1]
    if not download:
        where = " or ".join(str(folder) for folder in folders)
        raise FileNotFoundError(
            f"{name} (SHA-256 {sha256}) is not in {where}, and download=False: copy it into "
            f"{cache}, point the environment variable {DATA_ENV} at a folder that has it in a "
            f"{cache.name}/ subfolder, or call load_mnist(download=True)")
    _download(name, cache, sha256, mirrors, timeout)
    array = _load_if_valid(cache / name, sha256)
    if array is None:
        raise DownloadError(f"{cache / name} was altered right after it was downloaded")
    return array


# --------------------------------------------------------------------------- helpers

def _same_length(x: np.ndarray, y: np.ndarray) -> int:
    """N, after checking that x (N, ...) and y (N, ...) are arrays of one length N."""
    for name, a in (("x", x), ("y", y)):
        check_array(a, name, floating=False, finite=False)
        if a.ndim == 0:
            raise ValueError(f"{name} must have at least 1 dimension (N, ...), got a 0-D array")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length N, got {len(x)} and {len(y)}")
    return len(x)


def _check_images(images: np.ndarray) -> np.ndarray:
    """Check a batch of images (N, H, W) or (N, C, H, W); return it."""
    check_array(images, "images", floating=False, finite=False)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be 3-D (N, H, W) or 4-D (N, C, H, W), got "
                         f"{images.ndim}-D with shape {images.shape}")
    return images


def normalize(images: npt.NDArray[np.uint8], mean: float | None = None,
              std: float | None = None, dtype: npt.DTypeLike = np.float32
              ) -> npt.NDArray[np.floating]:
    """Scale uint8 images to [0, 1] and standardise them: ``(images / 255 - mean) / std``.

    Parameters
    ----------
    images : (N, H, W) or (N, C, H, W) uint8 array, e.g. (60000, 28, 28).
    mean, std : on the [0, 1] scale; default MNIST's ``MNIST_MEAN`` = 0.1307 and
        ``MNIST_STD`` = 0.3081 (Fashion-MNIST: ``FASHION_MNIST_MEAN``/``FASHION_MNIST_STD``).
    dtype : np.float32 (default) or np.float64.

    Returns
    -------
    New (N, 1, H, W) array (NCHW; (N, C, H, W) input keeps its C) of ``dtype``.
    """
    _check_images(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must have dtype uint8 (pixels 0-255), got {images.dtype}")
    mean = MNIST_MEAN if mean is None else check_real(mean, "mean")
    std = MNIST_STD if std is None else check_real(std, "std", positive=True)
    out = (images[:, None] if images.ndim == 3 else images).astype(check_dtype(dtype))
    out *= out.dtype.type(1.0 / (255.0 * std))
    out -= out.dtype.type(mean / std)
    return out


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move images by whole pixels: ``dy`` down (up if negative), ``dx`` right (left if negative).

    ``out[..., i, j] = images[..., i - dy, j - dx]`` where that pixel exists, else 0: the rows
    and columns that come in are zeros, the background of raw MNIST; what leaves the frame is
    lost. Shift the uint8 images *before* ``normalize`` (after it, 0 is no longer background).

    Parameters
    ----------
    images : (N, H, W) or (N, C, H, W) array of any numeric dtype, e.g. MNIST's uint8.
    dy, dx : ints with |dy| <= H and |dx| <= W.

    Returns
    -------
    A new array with the shape and dtype of ``images``.
    """
    H, W = _check_images(images).shape[-2:]
    for name, value, size, axis in (("dy", dy, H, "height H"), ("dx", dx, W, "width W")):
        if abs(check_int(value, name, None)) > size:
            raise ValueError(f"{name} must be in [-{size}, {size}] (the image {axis} is "
                             f"{size}), got {value}")
    dy, dx = int(dy), int(dx)
    out = np.zeros_like(images)
    src_rows, dst_rows = slice(max(-dy, 0), H - max(dy, 0)), slice(max(dy, 0), H - max(-dy, 0))
    src_cols, dst_cols = slice(max(-dx, 0), W - max(dx, 0)), slice(max(dx, 0), W - max(-dx, 0))
    out[..., dst_rows, dst_cols] = images[..., src_rows, src_cols]
    return out


def train_val_split(x: np.ndarray, y: np.ndarray, val_size: int = 5000, *,
                    seed: int | np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off a random validation set, reproducibly.

    Parameters
    ----------
    x : (N, ...) array.    y : (N,) array.
    val_size : number of validation examples, 1 <= val_size < N.
    seed : int or np.random.Generator (required, so the split is reproducible).

    Returns
    -------
    (x_train, y_train, x_val, y_val) with N - val_size and val_size rows, disjoint, covering
    all of x; both parts keep the original order of the rows they take.
    """
    n = _same_length(x, y)
    val_size = check_int(val_size, "val_size", 1)
    if val_size >= n:
        raise ValueError(f"val_size must be < N = {n} (the number of examples), got {val_size}")
    perm = as_rng(seed, "seed", allow_none=False).permutation(n)
    val, train = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    return x[train], y[train], x[val], y[val]


def iterate_minibatches(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True,
                        seed: int | np.random.Generator | None = None, drop_last: bool = False
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x_batch, y_batch)`` pairs covering the data once (one epoch).

    Parameters
    ----------
    x : (N, ...) array, e.g. (N, 1, 28, 28).    y : (N,) array.
    batch_size : rows per batch; the last batch may be smaller unless ``drop_last``.
    shuffle : visit the rows in a random order.
    seed : int (same seed -> same order), np.random.Generator (advanced by each epoch, so
        successive epochs differ but the run is reproducible), or None (unseeded).
    drop_last : skip a final batch smaller than ``batch_size``.

    Yields
    ------
    x_batch (B, ...) and y_batch (B,), B <= batch_size.
    """
    n = _same_length(x, y)
    batch_size = check_int(batch_size, "batch_size", 1)
    shuffle, drop_last = check_bool(shuffle, "shuffle"), check_bool(drop_last, "drop_last")
    order = as_rng(seed, "seed").permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, stop, batch_size):
            if order is None:
                yield x[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield x[idx], y[idx]

    return batches()
