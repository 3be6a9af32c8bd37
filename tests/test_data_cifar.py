"""CIFAR-10/100 loaders on small files written here in exactly the official python format."""
import io
import os
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

from nnlite.data import _locate
from nnlite.data.cifar import CIFAR10_CLASSES, cifar10_class_names, cifar100_class_names, load_cifar10, load_cifar100
from nnlite.data.errors import DatasetError

BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def make_batch(n, seed, label_keys=("labels",), n_classes=(10,), protocol=2):
    """A pickled batch dict like the official ones; returns (bytes, images NHWC uint8, {key: labels})."""
    rng = np.random.default_rng(seed)
    nhwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    # Official row layout, built independently of the loader: the 1024 red values row-major, then green, then blue.
    rows = np.stack([np.concatenate([nhwc[i, :, :, c].ravel() for c in range(3)]) for i in range(n)])
    d = {b"batch_label": f"batch {seed}".encode(), b"data": rows,
         b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)]}
    labels = {}
    for key, k in zip(label_keys, n_classes):
        labels[key] = [int(v) for v in rng.integers(0, k, n)]
        d[key.encode()] = labels[key]
    return pickle.dumps(d, protocol=protocol), nhwc, labels


def meta_bytes(names_key=b"label_names", names=CIFAR10_CLASSES, **extra):
    d = {names_key: [n.encode() for n in names], b"num_cases_per_batch": 3, b"num_vis": 3072}
    d.update(extra)
    return pickle.dumps(d, protocol=2)


def make_cifar10(root, kind="tar", n=3, protocol=2):
    """Write a miniature CIFAR-10 (n images per batch) as .tar.gz or extracted folder under root."""
    root.mkdir(parents=True, exist_ok=True)
    files, truth = {}, {}
    for seed, name in enumerate(BATCHES + ["test_batch"]):
        data, nhwc, labels = make_batch(n, seed, protocol=protocol)
        files[name], truth[name] = data, (nhwc, np.array(labels["labels"]))
    files["batches.meta"] = meta_bytes()
    files["readme.html"] = b"<html></html>"
    if kind == "tar":
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        (root / "cifar-10-batches-py").mkdir()
        for name, data in files.items():
            (root / "cifar-10-batches-py" / name).write_bytes(data)
    return truth


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(_locate, "_urlopen", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NNLITE_DATA", raising=False)


@pytest.mark.parametrize("kind", ["tar", "folder"])
def test_round_trip_train_and_test(tmp_path, kind):
    truth = make_cifar10(tmp_path, kind)
    images, labels = load_cifar10("train", path=tmp_path, layout="NHWC", dtype="uint8")
    assert images.shape == (15, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, np.concatenate([truth[b][0] for b in BATCHES]))  # batches 1..5 in order
    np.testing.assert_array_equal(labels, np.concatenate([truth[b][1] for b in BATCHES]))
    assert labels.dtype == np.int64
    images, labels = load_cifar10("test", path=tmp_path)
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.float32          # NCHW default
    np.testing.assert_allclose(images, truth["test_batch"][0].transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(labels, truth["test_batch"][1])


def test_channel_order_is_red_green_blue(tmp_path):
    """A pure-red image: first 1024 bytes 255, the rest 0 -> channel 0 is 1, channels 1 and 2 are 0."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    row = np.zeros((1, 3072), np.uint8)
    row[0, :1024] = 255
    row[0, 1024 + 33] = 7  # green plane, pixel (y=1, x=1)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": row, b"labels": [3]}, protocol=2))
    img, label = load_cifar10("test", path=tmp_path, layout="NHWC", dtype="uint8")
    assert (img[0, :, :, 0] == 255).all() and img[0, 1, 1, 1] == 7 and img[0, :, :, 2].sum() == 0
    assert img.flags.c_contiguous and label.tolist() == [3]


def test_path_may_point_into_extracted_folder_and_newer_pickles_load(tmp_path):
    truth = make_cifar10(tmp_path, "folder", protocol=pickle.HIGHEST_PROTOCOL)
    _, labels = load_cifar10("test", path=tmp_path / "cifar-10-batches-py")
    np.testing.assert_array_equal(labels, truth["test_batch"][1])


@pytest.mark.parametrize("kind", ["tar", "folder"])
def test_class_names_from_meta(tmp_path, kind):
    make_cifar10(tmp_path, kind)
    assert cifar10_class_names(path=tmp_path) == list(CIFAR10_CLASSES)


def test_found_under_nnlite_data(tmp_path, monkeypatch):
    truth = make_cifar10(tmp_path / "data" / "cifar-10", "tar")
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "data"))
    _, labels = load_cifar10("test")
    np.testing.assert_array_equal(labels, truth["test_batch"][1])


def test_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    keys, ks = ("fine_labels", "coarse_labels"), (100, 20)
    data, nhwc, labels = make_batch(4, 11, keys, ks)
    (folder / "test").write_bytes(data)
    fine_names = [f"fine{i}" for i in range(100)]
    (folder / "meta").write_bytes(meta_bytes(b"fine_label_names", fine_names,
                                             coarse_label_names=[f"c{i}".encode() for i in range(20)]))
    images, fine = load_cifar100("test", path=tmp_path, layout="NHWC", dtype="uint8")
    np.testing.assert_array_equal(images, nhwc)
    np.testing.assert_array_equal(fine, labels["fine_labels"])
    _, coarse = load_cifar100("test", path=tmp_path, label_mode="coarse")
    np.testing.assert_array_equal(coarse, labels["coarse_labels"])
    assert cifar100_class_names(path=tmp_path) == fine_names
    assert cifar100_class_names(path=tmp_path, label_mode="coarse")[19] == "c19"


def test_argument_errors(tmp_path):
    make_cifar10(tmp_path, "folder")
    with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC', got 'HWC'"):
        load_cifar10("test", path=tmp_path, layout="HWC")
    with pytest.raises(ValueError, match="split must be"):
        load_cifar10("validation", path=tmp_path)
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse'"):
        load_cifar100("test", path=tmp_path, label_mode="medium")


# ------------------------------------------------------------------------------------------- safety

class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


@pytest.mark.parametrize("payload, refused", [("system", "system"), ("eval", "eval")])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, payload, refused):
    marker = tmp_path / "pwned"
    evil = _Exploit(marker) if payload == "system" else _Eval()
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": evil, b"labels": [0]}, protocol=2))
    with pytest.raises(DatasetError) as info:
        load_cifar10("test", path=tmp_path)
    msg = str(info.value)
    assert "refusing to unpickle global" in msg and refused in msg and "test_batch" in msg
    assert not marker.exists()


# ------------------------------------------------------------------------------------------- corrupt input

def _folder_with_test_batch(tmp_path, obj_or_bytes):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    data = obj_or_bytes if isinstance(obj_or_bytes, bytes) else pickle.dumps(obj_or_bytes, protocol=2)
    (folder / "test_batch").write_bytes(data)
    return folder / "test_batch"


@pytest.mark.parametrize("obj, expected", [
    ({b"labels": [0]}, "missing key b'data'"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, "missing key b'labels'"),
    ({b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]}, r"shape \(N, 3072\), got uint8 array of shape \(2, 3000\)"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "got float32 array"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 2]}, "count mismatch: 2 rows in b'data' but 3"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"labels out of range: found 0..10, expected 0..9"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["cat"]}, "must be a list of N ints"),
    ([1, 2, 3], "expected a pickled dict, got list"),
])
def test_bad_batch_contents(tmp_path, obj, expected):
    p = _folder_with_test_batch(tmp_path, obj)
    with pytest.raises(DatasetError, match=expected) as info:
        load_cifar10("test", path=tmp_path)
    assert str(p) in str(info.value)


def test_garbage_and_truncated_pickle(tmp_path):
    good, _, _ = make_batch(2, 0)
    for data in (b"not a pickle at all", good[: len(good) // 2]):
        _folder_with_test_batch(tmp_path, data)
        with pytest.raises(DatasetError, match="not a valid pickle"):
            load_cifar10("test", path=tmp_path)


def test_truncated_archive(tmp_path):
    make_cifar10(tmp_path, "tar")
    archive = tmp_path / "cifar-10-python.tar.gz"
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated archive") as info:
        load_cifar10("train", path=tmp_path)
    assert str(archive) in str(info.value)


def test_archive_missing_member_and_folder_missing_batch(tmp_path):
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        data, _, _ = make_batch(2, 0)
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match="no member"):
        load_cifar10("train", path=tmp_path)
    other = tmp_path / "other"
    _folder_with_test_batch(other, {b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]})
    with pytest.raises(DatasetError, match="missing batch file data_batch_1"):
        load_cifar10("train", path=other)


def test_missing_dataset_message(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("network is unreachable")
    monkeypatch.setattr(_locate, "_urlopen", offline)
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "data"))
    with pytest.raises(DatasetError) as info:
        load_cifar10("test")
    msg = str(info.value)
    assert "cifar-10-python.tar.gz" in msg and "network is unreachable" in msg
    assert str(tmp_path / "data" / "cifar-10") in msg and "/usr/share/datasets/cifar-10" in msg
    assert "cifar-10-batches-py/ is accepted" in msg
    assert "c58f30108f718f92721af3b95e74349a" in msg


# ------------------------------------------------------------------------------------------- restricted unpickler

@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_restricted_unpickler_rebuilds_numeric_arrays_exactly(protocol):
    from nnlite.data.cifar import RestrictedUnpickler

    rng = np.random.default_rng(protocol)
    arrays = [rng.integers(0, 256, (4, 5), dtype=np.uint8),
              np.asfortranarray(rng.standard_normal((3, 2))),          # Fortran order
              rng.standard_normal(6).astype(">f4"),                      # big-endian
              np.arange(7, dtype=np.int64), np.zeros((0, 3), np.int16), np.array([True, False])]
    obj = {b"arrays": arrays, b"nested": (1, [2.5, b"x", "y"])}
    back = RestrictedUnpickler(io.BytesIO(pickle.dumps(obj, protocol=protocol))).load()
    assert back[b"nested"] == (1, [2.5, b"x", "y"])
    for a, b in zip(arrays, back[b"arrays"]):
        assert type(b) is np.ndarray and b.shape == a.shape and b.dtype == a.dtype.newbyteorder("=")
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable and b.dtype.isnative


def test_object_arrays_are_refused():
    from nnlite.data.cifar import RestrictedUnpickler

    data = pickle.dumps({b"data": np.array([1, "a"], dtype=object)}, protocol=2)
    with pytest.raises(DatasetError, match="unsupported array element type 'O"):
        RestrictedUnpickler(io.BytesIO(data), "x").load()


class _ShortArray:
    """Pickles exactly like ndarray.__reduce__ does, but with half the bytes its shape needs."""

    def __reduce__(self):
        reconstruct, args, (version, shape, dtype, fortran, data) = np.zeros((2, 3072), np.uint8).__reduce__()
        return reconstruct, args, (version, shape, dtype, fortran, data[:3072])


def test_array_with_wrong_byte_count_is_refused(tmp_path):
    p = _folder_with_test_batch(tmp_path, {b"data": _ShortArray(), b"labels": [0, 1]})
    with pytest.raises(DatasetError, match=r"shape \(2, 3072\) and type uint8 needs 6144 bytes, the pickle "
                                           r"holds 3072") as info:
        load_cifar10("test", path=tmp_path)
    assert str(p) in str(info.value)


def python2_style_batch(rows: np.ndarray, labels) -> bytes:
    """A batch pickled as the official files are (Python 2 cPickle, protocol 2), assembled opcode by
    opcode: Python 2 str (BINSTRING) for keys, type code, byte order and the raw array data."""
    import struct

    n, d = rows.shape
    data = rows.tobytes()
    return (b"\x80\x02}q\x00("                                                   # PROTO 2, {}, MARK
            b"U\x04data"                                                          # 'data'
            b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87R"
            b"(K\x01J" + struct.pack("<i", n) + b"J" + struct.pack("<i", d) + b"\x86"   # (1, (n, d),
            b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R"                              # dtype('u1', 0, 1)
            b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"           # .__setstate__(...)
            b"\x89T" + struct.pack("<I", len(data)) + data + b"tb"                # False, data) BUILD
            b"U\x06labels](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
            b"u.")


def test_python2_pickles_like_the_official_files(tmp_path):
    rng = np.random.default_rng(9)
    rows = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    blob = python2_style_batch(rows, [4, 0, 9])
    reference = pickle.loads(blob, encoding="bytes")        # the unrestricted loader agrees it is valid
    np.testing.assert_array_equal(reference[b"data"], rows)
    _folder_with_test_batch(tmp_path, blob)
    images, labels = load_cifar10("test", path=tmp_path, dtype="uint8")
    np.testing.assert_array_equal(images.reshape(3, 3072), rows)
    assert labels.tolist() == [4, 0, 9]


# ------------------------------------------------------------------------------------------- bounded reading

@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w", "w|gz"])
def test_archive_compressions_and_pax_headers_load(tmp_path, mode):
    data, nhwc, labels = make_batch(2, 3)
    with tarfile.open(str(tmp_path / "cifar-10-python.tar.gz"), mode, format=tarfile.PAX_FORMAT) as tar:
        for name, blob in (("x" * 120 + "/readme.html", b"<html>"), ("cifar-10-batches-py/test_batch", data)):
            info = tarfile.TarInfo(name)  # a 120-character folder needs a PAX header
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    images, got = load_cifar10("test", path=tmp_path, layout="NHWC", dtype="uint8")
    np.testing.assert_array_equal(images, nhwc)
    np.testing.assert_array_equal(got, labels["labels"])


def test_batch_larger_than_an_official_one_is_refused_unread(tmp_path, monkeypatch):
    from nnlite.data import cifar

    data, _, _ = make_batch(3, 0)
    p = _folder_with_test_batch(tmp_path, data)
    monkeypatch.setattr(cifar, "_IMAGES_PER_FILE", {"cifar-10": {"train": 0, "test": 0}})  # cap: 1 MiB
    assert load_cifar10("test", path=tmp_path)[0].shape == (3, 3, 32, 32)
    with open(p, "ab") as f:
        f.truncate(cifar._file_caps("cifar-10")["test_batch"] + 1)
    with pytest.raises(DatasetError, match=r"the file holds 1048577 bytes \(1.0 MB\); CIFAR-10's test_batch "
                                           r"holds at most 1048576 bytes") as info:
        load_cifar10("test", path=tmp_path)
    assert str(p) in str(info.value)


def test_archive_member_larger_than_an_official_one_is_refused(tmp_path, monkeypatch):
    from nnlite.data import cifar

    make_cifar10(tmp_path, "tar", n=3)
    monkeypatch.setattr(cifar, "_BYTES_PER_IMAGE", 0)
    monkeypatch.setattr(cifar, "_IMAGES_PER_FILE", {"cifar-10": {"train": 0, "test": 0}})
    monkeypatch.setattr(cifar, "_file_caps", lambda dataset: dict.fromkeys(
        ["batches.meta", "test_batch"] + BATCHES, 1000))
    with pytest.raises(DatasetError, match=r"archive member cifar-10-batches-py/data_batch_1 holds \d+ bytes; "
                                           r"CIFAR-10's data_batch_1 holds at most 1000 bytes"):
        load_cifar10("train", path=tmp_path)


def test_shared_containers_are_rebuilt_once_and_stay_shared():
    from nnlite.data.cifar import RestrictedUnpickler

    def nested(depth):
        a = [np.arange(3, dtype=np.uint8)]
        for _ in range(depth):
            a = [a, a]  # 2**depth paths through 2 * depth + 1 lists
        return a

    back = RestrictedUnpickler(io.BytesIO(pickle.dumps({b"x": nested(40)}, protocol=2)), "x").load()[b"x"]
    assert back[0] is back[1]  # rebuilt once, shared as in the pickle
    leaf = back
    for _ in range(40):
        leaf = leaf[0]
    np.testing.assert_array_equal(leaf[0], np.arange(3, dtype=np.uint8))
    with pytest.raises(DatasetError, match="nested too deeply"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps({b"x": nested(60)}, protocol=2)), "x").load()
