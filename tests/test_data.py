"""Tests for course_lib.data: IDX parsing, the bundled MNIST, downloads, batching helpers.

No test reaches the internet: every mirror is a local HTTP server on 127.0.0.1, and an
autouse fixture fails any attempt to resolve or connect to another host.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import shutil
import socket
import struct
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from course_lib import data, paths

BUNDLED = Path(data.__file__).resolve().parent.parent / "data" / "mnist"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Refuse non-loopback network access and keep the default cache inside tmp_path."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise AssertionError(f"test tried to connect to {address}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    monkeypatch.setenv("CNNS_DATA_DIR", str(tmp_path / "default-cache"))


# --------------------------------------------------------------------------- helpers

def idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    header = bytes([0, 0, dtype_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_fake_dataset(folder: Path, seed: int = 0) -> dict[str, str]:
    """Write four tiny gzipped IDX files (6 train, 4 test, 4x4 images); return their SHA-256s."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 4, 4)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 4, 4)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 4),
    }
    for name, array in arrays.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(array), mtime=0))
    return {name: sha256(folder / name) for name in arrays}


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def dead_mirror() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def server(tmp_path):
    """Local HTTP server. Under its root: good/ (fake dataset), bad/ (same names, other bytes),
    truncated/ (good files cut short despite a full Content-Length), slow/ (never answers)."""
    root = tmp_path / "www"
    checksums = make_fake_dataset(root / "good", seed=0)
    make_fake_dataset(root / "bad", seed=1)
    requests: list[str] = []
    release = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            if self.path.startswith("/truncated/"):
                body = (root / "good" / Path(self.path).name).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            elif self.path.startswith("/slow/"):
                release.wait(10)
            else:
                super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield SimpleNamespace(url=url, root=root, checksums=checksums, requests=requests)
    release.set()
    httpd.shutdown()
    httpd.server_close()


def load_fake(server, tmp_path, mirrors, **kwargs):
    """load_mnist on the fake dataset: nothing bundled, cache in tmp_path/cache."""
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    kwargs.setdefault("checksums", server.checksums)
    kwargs.setdefault("timeout", 2.0)
    return data.load_mnist(data_dir=tmp_path / "empty", mirrors=mirrors, **kwargs)


def assert_fake_loaded(result, server):
    good = server.root / "good"
    for key, name in data.FILES.items():
        array = getattr(result, key)
        np.testing.assert_array_equal(array, data.read_idx(good / name))
        assert array.dtype == (np.uint8 if key.startswith("x") else np.int64)
    assert result.x_train.shape == (6, 4, 4) and result.y_test.shape == (4,)


# --------------------------------------------------------------------------- bundled MNIST

def test_bundled_mnist_loads_offline():
    d = data.load_mnist(download=False)
    assert d.x_train.shape == (60000, 28, 28) and d.x_train.dtype == np.uint8
    assert d.y_train.shape == (60000,) and d.y_train.dtype == np.int64
    assert d.x_test.shape == (10000, 28, 28) and d.x_test.dtype == np.uint8
    assert d.y_test.shape == (10000,) and d.y_test.dtype == np.int64
    assert d.y_train[0] == 5 and d.y_test[0] == 7
    for y in (d.y_train, d.y_test):
        assert set(np.unique(y)) == set(range(10))
    assert d.x_train.max() == 255 and d.x_train.min() == 0
    assert not d.x_train.flags.writeable and not d.y_train.flags.writeable
    x_train, *_ = data.load_mnist(download=False)  # unpacks like a tuple; parsed once, cached
    assert x_train is d.x_train


@pytest.mark.parametrize("sums, algo", [("SHA256SUMS", hashlib.sha256), ("MD5SUMS", hashlib.md5)])
def test_bundled_checksums_match(sums, algo):
    lines = (BUNDLED / sums).read_text().split("\n")
    listed = dict(reversed(line.split()) for line in lines if line.strip())
    assert sorted(listed) == sorted(data.FILES.values())
    for name, digest in listed.items():
        assert algo((BUNDLED / name).read_bytes()).hexdigest() == digest, name
    fashion = BUNDLED.parent / "fashion-mnist" / sums
    assert sorted(line.split()[1] for line in fashion.read_text().splitlines()) == sorted(
        data.FILES.values())


@pytest.mark.parametrize("dataset", sorted(data.SHA256))
def test_built_in_checksums_are_those_of_the_sha256sums_files(dataset):
    """load_mnist verifies against data.SHA256 (an installed course_lib has no data/)."""
    lines = (BUNDLED.parent / dataset / "SHA256SUMS").read_text().splitlines()
    assert data.SHA256[dataset] == {name: digest for digest, name in map(str.split, lines)}


# --------------------------------------------------------------------------- IDX parser

def test_read_idx_round_trip_raw_and_gzip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a.idx", "a.idx.gz"):
        out = data.read_idx(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, array)
    assert data.read_idx(str(tmp_path / "a.idx")).shape == (2, 3, 4)


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize("content, pattern", [
    (b"\x00\x01" + GOOD[2:], r"expected magic bytes 00 00 08 <ndim>, found 00 01 08 02"),
    (b"\x00\x00\x0d" + GOOD[3:], r"0x08 \(uint8\), found 0x0d \(float32\)"),
    (GOOD[:-1], r"truncated: expected 12 bytes for shape \(3, 4\), found 11"),
    (GOOD + b"\x00\x00", r"extra bytes: expected 12 bytes for shape \(3, 4\), found 14"),
    (GOOD[:6], r"bad IDX header: expected >= 1 dimension and 12 header bytes"),
    (b"\x00\x00\x08\x00", r"bad IDX header"),
    (b"", r"found an empty file"),
    (gzip.compress(GOOD)[:-10], r"truncated gzip stream \(EOFError"),
    (gzip.compress(GOOD)[:-8] + b"\x00" * 8, r"corrupt or truncated gzip stream \(BadGzipFile"),
], ids=["magic", "dtype", "truncated", "extra", "short-header", "ndim0", "empty",
        "truncated-gzip", "gzip-crc"])
def test_read_idx_rejects_bad_files(tmp_path, content, pattern):
    path = tmp_path / "broken-file.idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=pattern) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_non_path():
    with pytest.raises(TypeError, match="path must be"):
        data.read_idx(123)


# --------------------------------------------------------------------------- downloads

def test_download_from_good_mirror_lands_in_cache(server, tmp_path):
    result = load_fake(server, tmp_path, [server.url + "good/"])
    assert_fake_loaded(result, server)
    cache = tmp_path / "cache" / "mnist"
    assert files_in(cache) == sorted(data.FILES.values())  # no temp files left over
    for name in data.FILES.values():
        assert sha256(cache / name) == server.checksums[name]
    count = len(server.requests)
    assert_fake_loaded(load_fake(server, tmp_path, [server.url + "good/"]), server)
    assert len(server.requests) == count == 4  # second load: from the cache, no requests


def test_data_dir_files_are_used_and_mirror_needs_no_slash(server, tmp_path):
    shutil.copytree(server.root / "good", tmp_path / "mine", ignore=shutil.ignore_patterns("t10k*"))
    result = data.load_mnist(data_dir=tmp_path / "mine", cache_dir=tmp_path / "cache",
                             mirrors=server.url + "good", checksums=server.checksums)
    assert_fake_loaded(result, server)
    assert sorted(server.requests) == ["/good/t10k-images-idx3-ubyte.gz",
                                       "/good/t10k-labels-idx1-ubyte.gz"]


def test_cache_dir_defaults_to_cnns_data_dir(server, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNS_DATA_DIR", str(tmp_path / "from-env"))
    load_fake(server, tmp_path, [server.url + "good/"], cache_dir=None)
    assert files_in(tmp_path / "from-env" / "mnist") == sorted(data.FILES.values())


def test_user_data_dir_is_the_variable_else_the_xdg_cache_else_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNS_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.user_data_dir() == tmp_path / "env"
    monkeypatch.setenv("CNNS_DATA_DIR", "")
    assert paths.user_data_dir() == tmp_path / "xdg" / "cnns-from-scratch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert paths.user_data_dir() == tmp_path / "home" / ".cache" / "cnns-from-scratch"


def test_outside_a_checkout_missing_data_names_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", None)  # as in an installed wheel
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist(download=False)
    message = str(info.value)
    folder = tmp_path / "default-cache" / "mnist"
    assert f"is not in {folder}, and download=False: copy it into {folder}" in message
    assert "CNNS_DATA_DIR" in message and "load_mnist(download=True)" in message


@pytest.mark.parametrize("first", ["bad/", "truncated/", "missing/", "slow/", "dead"])
def test_failing_mirror_is_skipped(server, tmp_path, first):
    first_url = dead_mirror() if first == "dead" else server.url + first
    timeout = {"timeout": 0.2} if first == "slow/" else {}
    kwargs = {"cache_dir": tmp_path / "cache", "checksums": server.checksums, **timeout}
    result = data.load_mnist(data_dir=tmp_path / "empty", mirrors=[first_url, server.url + "good/"],
                             **kwargs)
    assert_fake_loaded(result, server)
    assert files_in(tmp_path / "cache" / "mnist") == sorted(data.FILES.values())
    if first != "dead":
        assert sum(r.startswith("/" + first) for r in server.requests) == 4


def test_all_mirrors_failing_lists_each_and_leaves_no_file(server, tmp_path):
    dead = dead_mirror()
    mirrors = [server.url + "bad/", server.url + "truncated/", server.url + "missing/", dead,
               server.url + "slow/"]
    with pytest.raises(data.DownloadError) as info:
        load_fake(server, tmp_path, mirrors, timeout=0.2)
    message = str(info.value)
    name = "train-images-idx3-ubyte.gz"
    assert f"could not download {name} from any of 5 mirror(s)" in message
    assert f"{server.url}bad/{name}: ValueError: SHA-256 mismatch: expected " in message
    assert f"{server.url}truncated/{name}: ValueError: truncated response: got " in message
    assert f"{server.url}missing/{name}: HTTP error 404" in message
    assert f"{dead}{name}: ConnectionRefusedError" in message
    assert f"{server.url}slow/{name}: TimeoutError" in message
    assert files_in(tmp_path / "cache" / "mnist") == []


def test_corrupt_cached_file_is_not_trusted(server, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    make_fake_dataset(cache, seed=1)  # right names, wrong bytes
    with pytest.warns(RuntimeWarning, match="SHA-256 is not the expected"):
        result = load_fake(server, tmp_path, [server.url + "good/"])
    assert_fake_loaded(result, server)
    assert len(server.requests) == 4
    assert all(sha256(cache / n) == d for n, d in server.checksums.items())


def test_good_cached_files_are_used_without_network(server, tmp_path):
    shutil.copytree(server.root / "good", tmp_path / "cache" / "mnist")
    assert_fake_loaded(load_fake(server, tmp_path, [dead_mirror()]), server)
    assert_fake_loaded(load_fake(server, tmp_path, [dead_mirror()], download=False), server)


def test_interrupted_download_leaves_no_partial_file(server, tmp_path, monkeypatch):
    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)  # course_lib.files.atomic_open calls it
    with pytest.raises(KeyboardInterrupt):
        load_fake(server, tmp_path, [server.url + "good/"])
    assert files_in(tmp_path / "cache" / "mnist") == []


def test_download_false_without_files_raises(server, tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_fake(server, tmp_path, [server.url + "good/"], download=False)
    assert server.requests == []


def test_real_t10k_files_served_locally_verify_against_real_sha256sums(server, tmp_path):
    served, bundled = server.root / "real", tmp_path / "bundled"
    served.mkdir()
    bundled.mkdir()
    for name in data.FILES.values():
        target = served if name.startswith("t10k") else bundled
        (target / name).symlink_to(BUNDLED / name)
    result = data.load_mnist(data_dir=bundled, cache_dir=tmp_path / "cache",
                             mirrors=[server.url + "bad/", server.url + "real/"])
    assert result.x_test.shape == (10000, 28, 28) and result.y_test[0] == 7
    cache = tmp_path / "cache" / "mnist"
    assert files_in(cache) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for name in files_in(cache):
        assert sha256(cache / name) == sha256(BUNDLED / name)


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"dataset": "cifar10"}, ValueError, "dataset must be one of"),
    ({"mirrors": []}, ValueError, "at least one URL"),
    ({"mirrors": [1]}, TypeError, "mirrors must be a list of URL strings"),
    ({"timeout": 0}, ValueError, "timeout must be > 0 and finite, got 0"),
    ({"timeout": float("inf")}, ValueError, "timeout must be > 0 and finite, got inf"),
    ({"timeout": "5"}, TypeError, "timeout must be a real number, got str"),
    ({"download": "yes"}, TypeError, "download must be True or False"),
    ({"cache_dir": 3}, TypeError, "cache_dir must be a path"),
    ({"checksums": {"train-images-idx3-ubyte.gz": "abc"}}, ValueError, "64-hex-digit"),
    ({"checksums": ["x"]}, TypeError, "checksums must be a mapping"),
    ({"data_dir": "/nonexistent-dir"}, FileNotFoundError, "is not in /nonexistent-dir or "),
])
def test_load_mnist_validates_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        data.load_mnist(**{"download": False, **kwargs})


# --------------------------------------------------------------------------- normalize

def test_normalize_shapes_and_values():
    images = np.array([[[0, 255], [51, 102]]] * 3, dtype=np.uint8)  # (3, 2, 2)
    out = data.normalize(images)
    assert out.shape == (3, 1, 2, 2) and out.dtype == np.float32
    expected = (images[:, None] / 255.0 - data.MNIST_MEAN) / data.MNIST_STD
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    out64 = data.normalize(images, mean=0.5, std=0.25, dtype=np.float64)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64[0, 0], [[-2.0, 2.0], [-1.2, -0.4]], atol=1e-12)
    four_d = data.normalize(np.zeros((2, 3, 5, 5), np.uint8), mean=0.0, std=1.0)
    assert four_d.shape == (2, 3, 5, 5) and not four_d.any()


def test_normalize_on_mnist_gives_zero_mean_unit_std():
    x = data.normalize(data.load_mnist(download=False).x_train[:10000])
    assert x.shape == (10000, 1, 28, 28)
    assert abs(float(x.mean())) < 0.02 and abs(float(x.std()) - 1) < 0.02


IMAGES = np.zeros((2, 4, 4), np.uint8)


@pytest.mark.parametrize("args, kwargs, error, pattern", [
    ((np.zeros((2, 4, 4)),), {}, TypeError, r"images must have dtype uint8 \(.*\), got float64"),
    (([[1, 2]],), {}, TypeError, "images must be a numpy.ndarray"),
    ((np.zeros((4, 4), np.uint8),), {}, ValueError, "got 2-D with shape"),
    ((np.zeros((0, 4, 4), np.uint8),), {}, ValueError, "images must not be empty"),
    ((IMAGES,), {"std": 0.0}, ValueError, "std must be > 0 and finite, got 0.0"),
    ((IMAGES,), {"mean": "0.1"}, TypeError, "mean must be a real"),
    ((IMAGES,), {"mean": np.nan}, ValueError, "mean must be finite"),
    ((IMAGES,), {"dtype": np.int32}, TypeError, "dtype must be"),
])
def test_normalize_rejects_bad_input(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        data.normalize(*args, **kwargs)


# --------------------------------------------------------------------------- shift_images

def shift_loop(images, dy, dx):
    """Reference: out[..., i, j] = images[..., i - dy, j - dx] where that pixel exists, else 0."""
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


@pytest.mark.parametrize("shape", [(3, 5, 7), (2, 3, 6, 4)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int64])
def test_shift_images_matches_a_loop(shape, dtype):
    images = (np.random.default_rng(0).integers(1, 200, shape)).astype(dtype)
    before = images.copy()
    H, W = shape[-2:]
    for dy in range(-H, H + 1):
        for dx in range(-W, W + 1):
            out = data.shift_images(images, dy, dx)
            assert out.shape == images.shape and out.dtype == images.dtype
            np.testing.assert_array_equal(out, shift_loop(images, dy, dx))
    np.testing.assert_array_equal(images, before)  # the input is not modified
    assert not data.shift_images(images, H, 0).any() and not data.shift_images(images, 0, -W).any()
    out = data.shift_images(images, 0, 0)
    np.testing.assert_array_equal(out, images)
    assert out is not images


def test_shift_images_moves_a_digit_down_and_right():
    x = data.load_mnist(download=False).x_test[:2]
    out = data.shift_images(x, 2, -3)  # 2 rows down, 3 columns left
    np.testing.assert_array_equal(out[:, 2:, :-3], x[:, :-2, 3:])
    assert not out[:, :2].any() and not out[:, :, -3:].any()  # zeros (background) come in
    np.testing.assert_array_equal(out, np.roll(x, (2, -3), axis=(1, 2)) * (out > 0))


@pytest.mark.parametrize("args, error, pattern", [
    (([[1, 2]], 0, 0), TypeError, "images must be a numpy.ndarray"),
    ((np.zeros((4, 4), np.uint8), 0, 0), ValueError,
     r"images must be 3-D \(N, H, W\) or 4-D \(N, C, H, W\), got 2-D with shape \(4, 4\)"),
    ((np.zeros((0, 4, 4), np.uint8), 0, 0), ValueError, "images must not be empty"),
    ((IMAGES, 1.0, 0), TypeError, r"dy must be an int, got float 1.0"),
    ((IMAGES, 0, True), TypeError, "dx must be an int, got bool True"),
    ((IMAGES, 5, 0), ValueError, r"dy must be in \[-4, 4\] \(the image height H is 4\), got 5"),
    ((np.zeros((1, 4, 6), np.uint8), 0, -7), ValueError,
     r"dx must be in \[-6, 6\] \(the image width W is 6\), got -7"),
])
def test_shift_images_rejects_bad_input(args, error, pattern):
    with pytest.raises(error, match=pattern):
        data.shift_images(*args)


# --------------------------------------------------------------------------- train_val_split

def test_train_val_split_is_disjoint_covering_and_seeded():
    x = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    x_tr, y_tr, x_val, y_val = data.train_val_split(x, y, val_size=10, seed=0)
    assert x_tr.shape == (40, 2) and x_val.shape == (10, 2) and y_val.shape == (10,)
    np.testing.assert_array_equal(x_tr[:, 0] // 2, y_tr)  # rows stay paired with labels
    np.testing.assert_array_equal(np.sort(np.concatenate([y_tr, y_val])), y)
    assert not set(y_tr) & set(y_val)
    again = data.train_val_split(x, y, val_size=10, seed=0)
    np.testing.assert_array_equal(again[3], y_val)
    from_rng = data.train_val_split(x, y, val_size=10, seed=np.random.default_rng(0))
    np.testing.assert_array_equal(from_rng[3], y_val)
    other = data.train_val_split(x, y, val_size=10, seed=1)
    assert not np.array_equal(other[3], y_val)


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"val_size": 0, "seed": 0}, ValueError, "val_size must be >= 1, got 0"),
    ({"val_size": 10, "seed": 0}, ValueError, "val_size must be < N = 10"),
    ({"val_size": 2.5, "seed": 0}, TypeError, "val_size must be an int"),
    ({"val_size": 2, "seed": None}, TypeError,
     "seed must be an int seed or a numpy.random.Generator, got NoneType None"),
    ({"val_size": 2, "seed": 1.5}, TypeError, "seed must be an int"),
    ({"val_size": 2, "seed": -1}, ValueError, "seed must be >= 0"),
])
def test_train_val_split_rejects_bad_input(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        data.train_val_split(np.zeros((10, 3)), np.zeros(10), **kwargs)


def test_train_val_split_needs_matching_lengths_and_a_seed():
    with pytest.raises(ValueError, match="same length N, got 10 and 9"):
        data.train_val_split(np.zeros((10, 3)), np.zeros(9), seed=0)
    with pytest.raises(TypeError, match="seed"):
        data.train_val_split(np.zeros((10, 3)), np.zeros(10))


# --------------------------------------------------------------------------- minibatches

def batches(n=10, **kwargs):
    x, y = np.arange(2 * n).reshape(n, 2), np.arange(n)
    out = list(data.iterate_minibatches(x, y, **kwargs))
    for xb, yb in out:
        np.testing.assert_array_equal(xb[:, 0] // 2, yb)
    return [yb for _, yb in out]


def test_iterate_minibatches_sizes_order_and_drop_last():
    plain = batches(batch_size=4, shuffle=False)
    assert [b.tolist() for b in plain] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [len(b) for b in batches(batch_size=4, drop_last=True, seed=0)] == [4, 4]
    assert [len(b) for b in batches(batch_size=5, drop_last=True, seed=0)] == [5, 5]
    assert [len(b) for b in batches(batch_size=20)] == [10]
    assert batches(batch_size=20, drop_last=True) == []
    shuffled = batches(batch_size=3, seed=0)
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(10))


def test_iterate_minibatches_is_seeded():
    first = np.concatenate(batches(n=50, batch_size=8, seed=42))
    np.testing.assert_array_equal(first, np.concatenate(batches(n=50, batch_size=8, seed=42)))
    assert not np.array_equal(first, np.concatenate(batches(n=50, batch_size=8, seed=43)))
    assert not np.array_equal(first, np.arange(50))
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    epochs_a = [np.concatenate(batches(n=50, batch_size=8, seed=rng_a)) for _ in range(2)]
    epochs_b = [np.concatenate(batches(n=50, batch_size=8, seed=rng_b)) for _ in range(2)]
    np.testing.assert_array_equal(epochs_a, epochs_b)  # reproducible run ...
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # ... with a new order each epoch


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"batch_size": 2.0}, TypeError, "batch_size must be an int, got float"),
    ({"batch_size": True}, TypeError, "batch_size must be an int, got bool"),
    ({"batch_size": 2, "shuffle": 1}, TypeError, "shuffle must be True or False"),
    ({"batch_size": 2, "drop_last": None}, TypeError, "drop_last must be True or False"),
    ({"batch_size": 2, "seed": "abc"}, TypeError, "seed must be an int seed, a numpy"),
])
def test_iterate_minibatches_validates_eagerly(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        data.iterate_minibatches(np.zeros((10, 3)), np.zeros(10), **kwargs)  # no next() needed


def test_iterate_minibatches_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="same length N, got 10 and 8"):
        data.iterate_minibatches(np.zeros((10, 3)), np.zeros(8), 2)
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        data.iterate_minibatches([1, 2], np.zeros(2), 2)
