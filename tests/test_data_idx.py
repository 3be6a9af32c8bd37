"""IDX reader and the MNIST-family loaders, on small files written here in exactly the official format."""
import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnlite.data import _locate
from nnlite.data.errors import DatasetError
from nnlite.data.idx import load_emnist, load_fashion_mnist, load_kmnist, load_mnist, read_idx

_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C,
          np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array) -> bytes:
    """An IDX file's bytes, written independently of the reader: header + big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, _CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array, gz: bool):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_mnist_folder(folder: Path, n_train=12, n_test=7, gz=True, seed=0, n_classes=10):
    """A tiny dataset with official file names; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, n_classes, n).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        out[prefix] = (images, labels)
    return out


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Tests never touch the network nor the user's cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(_locate, "_urlopen", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NNLITE_DATA", raising=False)


# ---------------------------------------------------------------------------------------------- read_idx

@pytest.mark.parametrize("dtype", list(_CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_every_type(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((3, 5, 2)) * 50).astype(dtype)
    back = read_idx(write_idx(tmp_path / "a.idx", a, gz))
    assert back.dtype == dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, a)


@pytest.mark.parametrize("shape", [(7,), (0,), (2, 3), (4, 1, 3, 2), (0, 28, 28)])
def test_read_idx_shapes_and_file_objects(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    for data in (idx_bytes(a), gzip.compress(idx_bytes(a))):
        back = read_idx(io.BytesIO(data))
        assert back.shape == shape
        np.testing.assert_array_equal(back, a)


def test_read_idx_result_is_writable(tmp_path):
    a = read_idx(write_idx(tmp_path / "a", np.zeros((2, 2), np.uint8), gz=True))
    a[0, 0] = 5  # would raise on a read-only buffer
    assert a[0, 0] == 5


def _error(source) -> str:
    with pytest.raises(DatasetError) as info:
        read_idx(source)
    return str(info.value)


def test_wrong_magic_names_file_and_magic(tmp_path):
    p = tmp_path / "images.idx"
    p.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    msg = _error(p)
    assert str(p) in msg and "magic" in msg and "0x01020801" in msg


def test_unknown_type_code(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 1) + b"\x00")
    msg = _error(p)
    assert "0x0A" in msg and "0x08 (uint8)" in msg and str(p) in msg


def test_zero_dimensions_rejected(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(bytes([0, 0, 0x08, 0]))
    assert "0 dimensions" in _error(p)


def test_truncated_header_and_data(tmp_path):
    a = np.arange(20, dtype=np.uint8).reshape(4, 5)
    data = idx_bytes(a)
    p = tmp_path / "x.idx"
    p.write_bytes(data[:2])
    assert "too short" in _error(p)
    p.write_bytes(data[:9])
    assert "truncated IDX header" in _error(p)
    p.write_bytes(data[:-3])
    msg = _error(p)
    assert "truncated data" in msg and "needs 20 bytes" in msg and "only 17" in msg


def test_trailing_bytes_rejected(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"abcd")
    assert "4 unexpected bytes" in _error(p)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(600, dtype=np.uint8).reshape(20, 30)))
    p = tmp_path / "x.idx.gz"
    for cut in (len(data) - 4, len(data) // 2, 12):
        p.write_bytes(data[:cut])
        msg = _error(p)
        assert str(p) in msg and ("gzip" in msg or "truncated" in msg)


def test_huge_claimed_size_fails_fast_without_allocating(tmp_path):
    # (2^32-1) x 2^20 float64 (3.6e16 bytes) could exist in principle: report truncation, not MemoryError.
    p = tmp_path / "x.idx"
    p.write_bytes(bytes([0, 0, 0x0E, 2]) + struct.pack(">2I", 2**32 - 1, 2**20) + b"\x00" * 16)
    assert "truncated data" in _error(p)
    # 3 such dimensions exceed any array: refused from the header alone.
    p.write_bytes(bytes([0, 0, 0x0E, 3]) + b"\xff" * 12 + b"\x00" * 16)
    assert "impossible sizes" in _error(p)


def test_zero_sized_but_impossible_shape(tmp_path):
    # Found by fuzzing: 0 elements, yet the other sizes multiply beyond any possible array.
    p = tmp_path / "x.idx"
    p.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1))
    assert "impossible sizes (0, 4294967295, 4294967295)" in _error(p)


def test_missing_file_and_folder(tmp_path):
    assert "not found" in _error(tmp_path / "nope.idx")
    assert "is a folder" in _error(tmp_path)


def test_gzip_read_as_gzip_reads_it(tmp_path):
    """Several members (the data split across them), and zero padding after the last, as gzip accepts."""
    a = np.arange(600, dtype=np.uint8).reshape(20, 30)
    data = idx_bytes(a)
    p = tmp_path / "x.idx.gz"
    p.write_bytes(gzip.compress(data[:7]) + gzip.compress(b"") + gzip.compress(data[7:]) + bytes(1000))
    assert gzip.GzipFile(fileobj=io.BytesIO(p.read_bytes())).read() == data  # the reference agrees
    np.testing.assert_array_equal(read_idx(p), a)


def test_corrupt_gzip_checksum_is_refused(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(np.arange(50, dtype=np.uint8))))
    data[-8] ^= 0xFF  # the CRC-32 of the content
    p = tmp_path / "x.gz"
    p.write_bytes(bytes(data))
    assert "corrupt or truncated gzip data" in _error(p)


def test_max_bytes_bounds_the_declared_size(tmp_path):
    p = write_idx(tmp_path / "x.gz", np.zeros((4, 5), np.int16), gz=True)  # 40 bytes of data
    assert read_idx(p, max_bytes=40).shape == (4, 5)
    assert read_idx(p, max_bytes=None).shape == (4, 5)
    with pytest.raises(DatasetError, match=r"shape \(4, 5\) of int16: 40 bytes of data, more than "
                                           r"max_bytes = 39 bytes") as info:
        read_idx(p, max_bytes=39)
    assert str(p) in str(info.value)


def test_trailing_bytes_in_gzip_are_counted_then_refused(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8)) + b"abcd"))
    assert "4 unexpected bytes" in _error(p)
    p.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8)) + bytes(3 << 20)))
    assert "more than 1048576 unexpected bytes" in _error(p)


def test_device_and_fifo_are_refused_unopened(tmp_path):
    import os

    assert "is a character device, expected an IDX file" in _error("/dev/zero")
    fifo = tmp_path / "fifo.idx"
    os.mkfifo(fifo)  # open() would block until a writer came
    assert "is a FIFO" in _error(fifo)


def test_loader_refuses_header_larger_than_the_official_file(tmp_path):
    make_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(10001, np.uint8), gz=True)
    with pytest.raises(DatasetError, match="more than the 10000 labels of mnist's test split") as info:
        load_mnist("test", path=tmp_path)
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)


# ---------------------------------------------------------------------------------------------- loaders

@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_round_trip(tmp_path, gz):
    written = make_mnist_folder(tmp_path / "m", gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_mnist(split, path=tmp_path / "m")
        ref_images, ref_labels = written[prefix]
        assert images.shape == ref_images.shape and images.dtype == np.float32
        np.testing.assert_allclose(images, ref_images / 255.0, rtol=1e-6, atol=0)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(labels, ref_labels)
        raw, _ = load_mnist(split, path=tmp_path / "m", dtype="uint8")
        assert raw.dtype == np.uint8
        np.testing.assert_array_equal(raw, ref_images)
    f64, _ = load_mnist("test", path=tmp_path / "m", dtype=np.float64)
    assert f64.dtype == np.float64 and f64.max() <= 1.0


def test_lecun_dotted_raw_names_accepted(tmp_path):
    written = make_mnist_folder(tmp_path, gz=False)
    for kind in ("images-idx3", "labels-idx1"):
        (tmp_path / f"t10k-{kind}-ubyte").rename(tmp_path / f"t10k-{kind.replace('-idx', '.idx')}-ubyte")
    _, labels = load_mnist("test", path=tmp_path)
    np.testing.assert_array_equal(labels, written["t10k"][1])


def test_torchvision_layout_accepted(tmp_path):
    written = make_mnist_folder(tmp_path / "FashionMNIST" / "raw", gz=False)
    images, _ = load_fashion_mnist("test", path=tmp_path, dtype="uint8")
    np.testing.assert_array_equal(images, written["t10k"][0])


@pytest.mark.parametrize("loader, folder", [(load_fashion_mnist, "fashion-mnist"), (load_kmnist, "kmnist"),
                                            (load_mnist, "mnist")])
def test_found_under_nnlite_data(tmp_path, monkeypatch, loader, folder):
    written = make_mnist_folder(tmp_path / "data" / folder, seed=3)
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "data"))
    images, labels = loader("train", dtype="uint8")
    np.testing.assert_array_equal(images, written["train"][0])


def test_found_in_cache(tmp_path):
    written = make_mnist_folder(tmp_path / "cache" / "nnlite" / "fashion-mnist", seed=4)
    _, labels = load_fashion_mnist("test")
    np.testing.assert_array_equal(labels, written["t10k"][1])


def test_argument_errors(tmp_path):
    make_mnist_folder(tmp_path)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_mnist("val", path=tmp_path)
    with pytest.raises(ValueError, match="dtype must be"):
        load_mnist("test", path=tmp_path, dtype="int16")


def test_count_mismatch_names_both_files(tmp_path):
    make_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(6, np.uint8), gz=True)
    with pytest.raises(DatasetError) as info:
        load_mnist("test", path=tmp_path)
    msg = str(info.value)
    assert "count mismatch" in msg and "7 images" in msg and "6 labels" in msg
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg


def test_wrong_image_shape(tmp_path):
    make_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((7, 27, 28), np.uint8), gz=True)
    with pytest.raises(DatasetError, match=r"expected images of shape \(N, 28, 28\), got \(7, 27, 28\)"):
        load_mnist("test", path=tmp_path)


def test_labels_out_of_range(tmp_path):
    make_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(7, 10, np.uint8), gz=True)
    with pytest.raises(DatasetError, match=r"labels out of range: found 10..10, expected 0..9"):
        load_mnist("test", path=tmp_path)


def test_missing_files_without_download_lists_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "data"))
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist("train", download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    for tried in (tmp_path / "data" / "fashion-mnist", tmp_path / "cache" / "nnlite" / "fashion-mnist",
                  Path("/usr/share/datasets/fashion-mnist")):
        assert str(tried) in msg
    assert "download=False" in msg


# ---------------------------------------------------------------------------------------------- EMNIST

def _emnist_arrays(n=5, seed=0):
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)  # as in the file: transposed
    labels = rng.integers(1, 27, n).astype(np.uint8)
    return stored, labels


def test_emnist_from_gz_files_is_transposed_upright(tmp_path):
    stored, labels = _emnist_arrays()
    write_idx(tmp_path / "emnist-letters-test-images-idx3-ubyte.gz", stored, gz=True)
    write_idx(tmp_path / "emnist-letters-test-labels-idx1-ubyte.gz", labels, gz=True)
    images, got = load_emnist("test", subset="letters", path=tmp_path, dtype="uint8")
    np.testing.assert_array_equal(images, stored.transpose(0, 2, 1))
    np.testing.assert_array_equal(got, labels)


def test_emnist_read_from_official_zip(tmp_path):
    stored, labels = _emnist_arrays(seed=1)
    with zipfile.ZipFile(tmp_path / "gzip.zip", "w") as z:
        z.writestr("gzip/emnist-letters-train-images-idx3-ubyte.gz", gzip.compress(idx_bytes(stored)))
        z.writestr("gzip/emnist-letters-train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels)))
    images, got = load_emnist("train", subset="letters", path=tmp_path, dtype="uint8")
    np.testing.assert_array_equal(images, stored.transpose(0, 2, 1))
    np.testing.assert_array_equal(got, labels)
    with pytest.raises(DatasetError, match="no member gzip/emnist-digits-train-images"):
        load_emnist("train", subset="digits", path=tmp_path)


def test_emnist_unknown_subset():
    with pytest.raises(ValueError, match="valid subsets: byclass, bymerge, balanced, letters, digits, mnist"):
        load_emnist("train", subset="lowercase")


# ---------------------------------------------------------------------------------------------- download
# A fake opener serves local bytes in place of the mirror, so checksums can be tested without a network.

class FakeResponse:
    def __init__(self, data: bytes, fail_after: int | None = None):
        self._buf, self._fail_after, self._sent = io.BytesIO(data), fail_after, 0
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n=-1):
        if self._fail_after is not None and self._sent >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        chunk = self._buf.read(n)
        self._sent += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fake_mnist(monkeypatch, tmp_path, md5_of=None):
    """Register a fake 'mnist' with two mirrors whose files are generated here; return served bytes."""
    import hashlib
    import urllib.error

    src = make_mnist_folder(tmp_path / "server", n_test=9, seed=7)
    served = {n: (tmp_path / "server" / n).read_bytes()
              for n in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    files = {n: _locate.RemoteFile(n, (md5_of or hashlib.md5)(b).hexdigest() if md5_of is None else md5_of(b),
                                   (f"http://dead.example/{n}", f"http://mirror.example/{n}"))
             for n, b in served.items()}
    monkeypatch.setitem(_locate.DATASETS, "mnist", _locate.DatasetInfo("mnist", "mnist", "http://home", files))
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        if "dead.example" in url:
            raise urllib.error.URLError("name resolution failed")
        return FakeResponse(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(_locate, "_urlopen", opener)
    return src, calls


def test_download_accepts_matching_checksum_with_mirror_fallback(tmp_path, monkeypatch, capsys):
    src, calls = fake_mnist(monkeypatch, tmp_path)
    dest = tmp_path / "dl"
    images, labels = load_mnist("test", path=dest, dtype="uint8")
    np.testing.assert_array_equal(images, src["t10k"][0])
    np.testing.assert_array_equal(labels, src["t10k"][1])
    assert sorted(p.name for p in dest.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert calls[0].startswith("http://dead.example/") and calls[1].startswith("http://mirror.example/")
    assert "100% [" in capsys.readouterr().err  # the progress bar went to stderr
    calls.clear()
    load_mnist("test", path=dest)  # second time: found on disk, no network
    assert calls == []


def test_download_into_cache_by_default(tmp_path, monkeypatch):
    fake_mnist(monkeypatch, tmp_path)
    load_mnist("test")
    assert (tmp_path / "cache" / "nnlite" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_download_rejects_wrong_checksum_and_leaves_nothing(tmp_path, monkeypatch):
    fake_mnist(monkeypatch, tmp_path, md5_of=lambda b: "0" * 32)
    dest = tmp_path / "dl"
    with pytest.raises(DatasetError) as info:
        load_mnist("test", path=dest)
    msg = str(info.value)
    assert "checksum mismatch" in msg and "expected 00000000000000000000000000000000" in msg
    assert list(dest.iterdir()) == []  # no final file, no temporary .part


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    fake_mnist(monkeypatch, tmp_path)
    monkeypatch.setattr(_locate, "_urlopen", lambda url, timeout=None: FakeResponse(b"x" * 200_000, 70_000))
    dest = tmp_path / "dl"
    with pytest.raises(DatasetError, match="connection reset"):
        load_mnist("test", path=dest)
    assert list(dest.iterdir()) == []


def test_no_network_message_says_what_to_put_where(tmp_path, monkeypatch):
    import urllib.error

    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_locate, "_urlopen", offline)
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "data"))
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist("test")
    msg = str(info.value)
    assert "Temporary failure in name resolution" in msg
    assert str(tmp_path / "data" / "fashion-mnist") in msg                   # paths tried
    assert str(tmp_path / "cache" / "nnlite" / "fashion-mnist") in msg
    assert "/usr/share/datasets/fashion-mnist" in msg
    assert "t10k-images-idx3-ubyte.gz  from http://fashion-mnist" in msg    # what to put where
    assert "bef4ecab320f06d8554ea6380940ec79" in msg
