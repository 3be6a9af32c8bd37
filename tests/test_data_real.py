"""Smoke tests on the real files under $NNLITE_DATA (skipped, with the reason, when they are absent)."""
import gzip
import hashlib

import numpy as np
import pytest

from nnlite.data import _locate
from nnlite.data.errors import DatasetError
from nnlite.data.folder import load_image_folder
from nnlite.data.idx import load_fashion_mnist, load_mnist


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(_locate, "_urlopen", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _need(folder):
    if not folder.is_dir():
        pytest.skip(f"{folder} absent: the real dataset is not on this machine")
    return folder


def test_fashion_mnist_train_full_and_balanced(real_data, monkeypatch):
    _need(real_data / "fashion-mnist")
    monkeypatch.setenv("NNLITE_DATA", str(real_data))        # found through $NNLITE_DATA/fashion-mnist
    images, labels = load_fashion_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [6000] * 10


def test_fashion_mnist_test_split_and_uint8(real_data):
    images, labels = load_fashion_mnist("test", path=_need(real_data / "fashion-mnist"), dtype="uint8")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8 and images.max() == 255
    assert np.bincount(labels).tolist() == [1000] * 10


def test_fashion_mnist_files_are_the_genuine_data(real_data):
    """Debian re-compressed the .gz files (other gzip headers, so other file MD5s than Zalando's); the
    decompressed bytes must match the content MD5s recorded in nnlite's checksum table."""
    folder = _need(real_data / "fashion-mnist")
    for name, remote in _locate.DATASETS["fashion-mnist"].files.items():
        with gzip.open(folder / name) as f:
            assert hashlib.md5(f.read()).hexdigest() == remote.content_md5, name


def test_mnist_test_set_and_published_md5s(real_data, monkeypatch):
    folder = _need(real_data / "mnist")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert _locate.file_md5(folder / name) == _locate.DATASETS["mnist"].files[name].md5, name
    assert _locate.DATASETS["mnist"].files["t10k-images-idx3-ubyte.gz"].md5 == "9fb629c4189551a2d022fa330f9573f3"
    images, labels = load_mnist("test", path=folder)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]   # the well-known first test digits
    assert set(np.unique(labels).tolist()) == set(range(10))


def test_mnist_train_absent_gives_actionable_error(real_data, monkeypatch):
    _need(real_data / "mnist")
    monkeypatch.setenv("NNLITE_DATA", str(real_data))
    if (real_data / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("the MNIST training set is present on this machine")
    with pytest.raises(DatasetError) as info:
        load_mnist("train", download=False)
    assert str(real_data / "mnist") in str(info.value) and "train-images-idx3-ubyte.gz" in str(info.value)


def test_photos_as_colour_patches_and_grey_thumbnails(real_data):
    photos = _need(real_data / "photos")
    patches, names = load_image_folder(photos, mode="RGB", patch=32)
    assert patches.ndim == 4 and patches.shape[1:] == (32, 32, 3) and len(patches) > 1000
    assert patches.dtype == np.float32 and 0.0 <= patches.min() and patches.max() <= 1.0
    assert len(names) == len(patches) and names == sorted(names)
    assert names.count("astronaut.png") == 16 * 16           # 512x512 -> 16 x 16 tiles
    grey, names = load_image_folder(photos, mode="L", size=(64, 64))
    assert grey.shape == (len(names), 64, 64) and "camera.png" in names
