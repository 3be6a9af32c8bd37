"""Hostile dataset files (CIFAR, IDX, image folders): each loader answers with a DatasetError, in bounded memory.

Every file is crafted here in ``tmp_path`` (none is over 10 MB on disk; a few are sparse files or links
to devices) and handed to a loader in a child process. The child reports the exception's class and
message and its own peak resident memory (``VmHWM`` in ``/proc/self/status``), which must stay under
512 MB. The child runs under a 4 GiB address-space limit, so a reader that tries to hold gigabytes fails
there instead of straining the machine, and a 60 s timeout guards against hangs (it is not a speed
test: the seconds taken are only printed).

Compressed streams of gigabytes of zeros are written without ever holding them: one deflate block of
1 MiB of zeros, ended by a full flush (so it depends on nothing before it), repeated, with the CRC-32
of the zeros computed by zlib's ``crc32_combine`` algorithm instead of by reading them.
"""
import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import remove_deep

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists() or not hasattr(os, "mkfifo"),
                                reason="needs Linux (/proc/self/status for peak memory, FIFOs)")

ROOT = Path(__file__).resolve().parents[1]
PEAK_LIMIT_MB = 512
_MiB = 1 << 20

CHILD = r"""
import json, re, resource, sys, time
limit = 4 << 30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from nnlite.data.errors import DatasetError
from nnlite.data import cifar, folder, idx
FUNCTIONS = {"load_cifar10": cifar.load_cifar10, "load_cifar100": cifar.load_cifar100, "read_idx": idx.read_idx,
             "load_mnist": idx.load_mnist, "load_emnist": idx.load_emnist,
             "load_image_folder": folder.load_image_folder}


def peak_kb():
    return int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))


for line in sys.stdin:
    fn, args, kwargs = json.loads(line)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # peak resident memory := current, so each call's own peak is measured
    start = time.perf_counter()
    try:
        FUNCTIONS[fn](*args, **kwargs)
        out = {"class": None, "dataset_error": False, "message": ""}
    except BaseException as exc:
        out = {"class": type(exc).__name__, "dataset_error": isinstance(exc, DatasetError),
               "message": str(exc)[:3000]}
    out["seconds"] = time.perf_counter() - start
    out["peak_kb"] = peak_kb()
    print(json.dumps(out), flush=True)
"""


def run_children(tmp_path, calls) -> list[dict]:
    """Run each (fn, args, kwargs) in one child process, in order; one outcome dict per call."""
    env = {k: v for k, v in os.environ.items() if k != "NNLITE_DATA"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    stdin = "".join(json.dumps(call) + "\n" for call in calls)
    proc = subprocess.run([sys.executable, "-c", CHILD], input=stdin, capture_output=True, text=True,
                          timeout=60 + 10 * len(calls), env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(outcomes) == len(calls), proc.stdout[-3000:] + proc.stderr[-3000:]
    return outcomes


def _clear_refs_works() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------ gzip of many zeros

def _gf2_times(mat, vec):
    total, i = 0, 0
    while vec:
        if vec & 1:
            total ^= mat[i]
        vec >>= 1
        i += 1
    return total


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc32(A), crc32(B) and len(B) (zlib's crc32_combine, by GF(2) matrices)."""
    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # the operator for one zero bit
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def crc32_of_zeros(n: int) -> int:
    """crc32(bytes(n)) without making them: doubling from crc32 of 1 MiB of zeros."""
    result, length = 0, 0
    block_crc, block_len = zlib.crc32(bytes(_MiB)), _MiB
    whole, rest = divmod(n, _MiB)
    while whole:
        if whole & 1:
            result, length = crc32_combine(result, block_crc, block_len), length + block_len
        block_crc, block_len = crc32_combine(block_crc, block_crc, block_len), 2 * block_len
        whole >>= 1
    return crc32_combine(result, zlib.crc32(bytes(rest)), rest)


def _deflate_alone(data: bytes) -> bytes:
    """Raw deflate of ``data``, not final, ending byte-aligned with no reference to anything before it."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def write_gzip(path: Path, parts) -> Path:
    """One gzip member holding ``parts`` in order: bytes, or an int n for n zero bytes (streamed)."""
    zero_block = _deflate_alone(bytes(_MiB))
    crc, size = 0, 0
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # magic, deflate, no flags, mtime 0, max, unix
        for part in parts:
            if isinstance(part, int):
                whole, rest = divmod(part, _MiB)
                for _ in range(whole):
                    f.write(zero_block)
                f.write(_deflate_alone(bytes(rest)))
                crc, size = crc32_combine(crc, crc32_of_zeros(part), part), size + part
            else:
                f.write(_deflate_alone(part))
                crc, size = zlib.crc32(part, crc), size + len(part)
        f.write(b"\x03\x00")  # an empty final block
        f.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return path


def test_gzip_writer_is_exact(tmp_path):
    """The helper itself, against gzip on a size small enough to decompress here."""
    parts = [b"head", 3 * _MiB + 5, b"tail"]
    data = gzip.decompress(write_gzip(tmp_path / "z.gz", parts).read_bytes())
    assert data == b"head" + bytes(3 * _MiB + 5) + b"tail"
    assert crc32_of_zeros(5 * _MiB + 3) == zlib.crc32(bytes(5 * _MiB + 3))


# ------------------------------------------------------------------------------------ CIFAR inputs

BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _batch(n=2):
    return pickle.dumps({b"data": np.zeros((n, 3072), np.uint8), b"labels": [0] * n}, protocol=2)


def _meta():
    return pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}, protocol=2)


def _cifar_folder(tmp_path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in BATCHES + ["test_batch"]:
        (folder / name).write_bytes(_batch())
    (folder / "batches.meta").write_bytes(_meta())
    return folder


def _tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _pad(n: int) -> int:
    return -n % tarfile.BLOCKSIZE


def _tar_tail(members) -> bytes:
    """Small members (name, data), then the two zero blocks that end a tar."""
    out = b"".join(_tar_header(n, len(d)) + d + bytes(_pad(len(d))) for n, d in members)
    return out + bytes(2 * tarfile.BLOCKSIZE)


def _nested_shared_lists(depth=40):
    a = []
    for _ in range(depth):
        a = [a, a]  # one list referred to twice: 2**depth paths through 2 * depth + 1 objects
    return a


class _ArrayOn:
    """Pickles as an ndarray (ndarray.__reduce__'s form) whose bytes are the given, shared object."""

    def __init__(self, data: bytes):
        self.data = data

    def __reduce__(self):
        reconstruct, args, (version, _, dtype, fortran, _) = np.zeros(1, np.uint8).__reduce__()
        return reconstruct, args, (version, (len(self.data),), dtype, fortran, self.data)


class _Encode:
    """Pickles as ``_codecs.encode(text, 'latin1')``, as protocol 2 writes bytes."""

    def __init__(self, text: str):
        self.text = text

    def __reduce__(self):
        import _codecs

        return _codecs.encode, (self.text, "latin1")


def cifar_cases(tmp_path):
    cases = {}

    def case(name, fragment, *args, **kwargs):
        cases[name] = (fragment, args, kwargs)

    d = tmp_path / "batch-dev-zero"
    (_cifar_folder(d) / "data_batch_1").unlink()
    os.symlink("/dev/zero", d / "cifar-10-batches-py" / "data_batch_1")
    case("batch symlinked to /dev/zero", "is a character device", "load_cifar10", "train", path=str(d),
         download=False)

    d = tmp_path / "batch-fifo"
    (_cifar_folder(d) / "data_batch_1").unlink()
    os.mkfifo(d / "cifar-10-batches-py" / "data_batch_1")
    case("batch is a FIFO", "is a FIFO", "load_cifar10", "train", path=str(d), download=False)

    d = tmp_path / "batch-sparse-3gb"
    folder = _cifar_folder(d)
    with open(folder / "test_batch", "r+b") as f:
        f.truncate(3 << 30)  # a sparse 3 GB file: a valid pickle, then zeros
    case("3 GB batch file", "holds at most", "load_cifar10", "test", path=str(d), download=False)

    d = tmp_path / "archive-dev-zero"
    d.mkdir()
    os.symlink("/dev/zero", d / "cifar-10-python.tar.gz")
    case("archive symlinked to /dev/zero", "is a character device", "load_cifar10", "test", path=str(d),
         download=False)

    d = tmp_path / "archive-3gb-member"
    d.mkdir()
    big = 3 << 30
    write_gzip(d / "cifar-10-python.tar.gz",
               [_tar_header("cifar-10-batches-py/test_batch", big), big,
                bytes(_pad(big)) + _tar_tail([("cifar-10-batches-py/batches.meta", _meta())])])
    case("3 GB batch member in a small .tar.gz", "holds at most", "load_cifar10", "test", path=str(d),
         download=False)

    d = tmp_path / "archive-3gb-readme"
    d.mkdir()
    write_gzip(d / "cifar-10-python.tar.gz",
               [_tar_header("cifar-10-batches-py/readme.html", big), big,
                bytes(_pad(big)) + _tar_tail([("cifar-10-batches-py/test_batch", _batch())])])
    case("3 GB other member before the batch", "once decompressed", "load_cifar10", "test", path=str(d),
         download=False)

    d = tmp_path / "archive-pax-1gb"
    d.mkdir()
    value = 1 << 30
    body_len = len(" comment=") + value + 1
    digits = len(str(body_len))
    digits = len(str(body_len + digits))
    record_len = body_len + digits  # "<len> comment=<value>\n", <len> counting itself
    prefix = f"{record_len} comment=".encode()
    write_gzip(d / "cifar-10-python.tar.gz",
               [_tar_header("././@PaxHeader", record_len, tarfile.XHDTYPE) + prefix, value,
                b"\n" + bytes(_pad(record_len)) + _tar_tail([("cifar-10-batches-py/test_batch", _batch())])])
    case("1 GB PAX header", "record of", "load_cifar10", "test", path=str(d), download=False)

    d = tmp_path / "pickle-shared-top"
    _cifar_folder(d)
    blob = pickle.dumps(_nested_shared_lists(), protocol=2)
    assert len(blob) < 400
    (d / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    case("small pickle of nested shared lists", "expected a pickled dict", "load_cifar10", "test",
         path=str(d), download=False)

    d = tmp_path / "pickle-shared-labels"
    _cifar_folder(d)
    blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": _nested_shared_lists()}, protocol=2)
    (d / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    case("nested shared lists as labels", "must be a list of N ints", "load_cifar10", "test", path=str(d),
         download=False)

    d = tmp_path / "pickle-shared-array-bytes"
    _cifar_folder(d)
    shared = bytes(_MiB)
    blob = pickle.dumps({b"data": [_ArrayOn(shared) for _ in range(4000)], b"labels": [0]}, protocol=4)
    assert len(blob) < 2 * _MiB  # 4000 arrays of 1 MiB each, on one string of bytes
    (d / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    case("4000 arrays on one shared MiB", "more bytes than the pickle itself", "load_cifar10", "test",
         path=str(d), download=False)

    d = tmp_path / "pickle-shared-encode"
    _cifar_folder(d)
    text = "\x00" * _MiB
    blob = pickle.dumps({b"data": [_Encode(text) for _ in range(4000)], b"labels": [0]}, protocol=2)
    assert len(blob) < 2 * _MiB
    (d / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    case("one MiB string encoded 4000 times", "encodes more bytes than it holds", "load_cifar10", "test",
         path=str(d), download=False)

    d = tmp_path / "pickle-bytearray8"
    _cifar_folder(d)
    blob = b"\x80\x05" + pickle.BYTEARRAY8 + struct.pack("<Q", 1 << 40) + b"\x00" * 64  # declares 1 TiB
    (d / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    case("pickle declaring a 1 TiB bytearray", "not a valid pickle", "load_cifar10", "test", path=str(d),
         download=False)
    return cases


# ------------------------------------------------------------------------------------ IDX inputs

def _idx_header(shape, code=0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


ONE_LABEL = _idx_header((1,)) + b"\x07"


def idx_cases(tmp_path):
    cases = {}

    def case(name, fragment, *args, **kwargs):
        cases[name] = (fragment, args, kwargs)

    n = 2168367346  # x 28 x 28 bytes = 1.7 TB
    d = tmp_path / "gz-1.7tb"
    d.mkdir()
    write_gzip(d / "train-images-idx3-ubyte.gz", [_idx_header((n, 28, 28)), 9 << 30])
    write_gzip(d / "train-labels-idx1-ubyte.gz", [_idx_header((n,)), 1 << 30])
    case("IDX .gz declaring 1.7 TB (MNIST loader)", "more than the 60000 images", "load_mnist", "train",
         path=str(d), download=False)
    case("IDX .gz declaring 1.7 TB (read_idx)", "more than max_bytes", "read_idx",
         str(d / "train-images-idx3-ubyte.gz"))

    p = write_gzip(tmp_path / "declared-200mb.gz", [_idx_header((200 * _MiB,)), 9 << 30])
    case("IDX .gz declaring 200 MiB, holding 9 GiB", "unexpected bytes after the data", "read_idx", str(p))

    p = write_gzip(tmp_path / "one-then-zeros.gz", [ONE_LABEL, 9 << 30])
    case("1-item IDX then 9 GiB of zeros in the gzip member", "unexpected bytes after the data", "read_idx",
         str(p))

    p = tmp_path / "one-then-empty-members.gz"
    empty = gzip.compress(b"", mtime=0)
    with open(p, "wb") as f:
        f.write(gzip.compress(ONE_LABEL, mtime=0))
        for _ in range(10 * _MiB // (len(empty) * 1000)):
            f.write(empty * 1000)
    case("1-item IDX then 10 MB of empty gzip members", "empty gzip members", "read_idx", str(p))

    p = tmp_path / "one-then-zero-padding.gz"
    with open(p, "wb") as f:
        f.write(gzip.compress(ONE_LABEL, mtime=0))
        f.write(bytes(10 * _MiB))
    case("1-item IDX then 10 MB of zero padding", "bytes of gzip data after the end", "read_idx", str(p))

    p = tmp_path / "one-then-sparse.idx"
    p.write_bytes(ONE_LABEL)
    with open(p, "r+b") as f:
        f.truncate(16 << 30)
    case("raw 1-item IDX then 16 GiB (sparse)", "unexpected bytes after the data", "read_idx", str(p))

    d = tmp_path / "dev-zero"
    d.mkdir()
    os.symlink("/dev/zero", d / "t10k-images-idx3-ubyte.gz")
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(ONE_LABEL))
    case("MNIST images symlinked to /dev/zero", "is a character device", "load_mnist", "test", path=str(d),
         download=False)

    p = tmp_path / "fifo.idx"
    os.mkfifo(p)
    case("IDX path is a FIFO", "is a FIFO", "read_idx", str(p))
    return cases


def folder_cases(tmp_path):
    from PIL import Image

    d = tmp_path / "png-9000"
    d.mkdir()
    Image.new("1", (9000, 9000)).save(d / "bomb.png")  # a few KB; 972 MB as float32 RGB
    many = tmp_path / "png-12x5000"
    many.mkdir()
    for i in range(12):  # each within the per-file cap; 3.6 GB together as float32 RGB
        Image.new("1", (5000, 5000)).save(many / f"b{i:02d}.png")
    nan = tmp_path / "tiff-nan"
    nan.mkdir()
    x = np.full((16, 16), 0.5, np.float32)
    x[2, 3] = np.nan
    Image.fromarray(x, mode="F").save(nan / "nan.tif")
    deep16 = tmp_path / "png-16bit-rgb"
    deep16.mkdir()
    _png16_rgb(deep16 / "rgb16.png", np.array([[[0x0100, 0x01FF, 0xFFFF]]], ">u2"))
    return {"9000x9000 PNG of a few KB": ("larger than max_pixels", ("load_image_folder", str(d)), {}),
            "12 PNGs of 5000x5000, 876 KB together": ("300.0 megapixels together", ("load_image_folder", str(many)),
                                                      {}),
            "float TIFF with a NaN pixel": ("1 NaN pixel", ("load_image_folder", str(nan)), {}),
            "16-bit RGB PNG": ("16-bit colour PNG", ("load_image_folder", str(deep16)), {})}


def _png16_rgb(path, pixels):
    """A 16-bit RGB PNG of ``pixels`` ``(H, W, 3)`` big-endian uint16, written by hand (Pillow writes none)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w = pixels.shape[:2]
    raw = b"".join(b"\0" + pixels[i].astype(">u2").tobytes() for i in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
                     chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Each hostile case crafted, then all run in one child (peak memory reset before each)."""
    if not _clear_refs_works():
        pytest.skip("cannot reset the peak-memory counter (/proc/self/clear_refs)")
    root = tmp_path_factory.mktemp("hostile")
    (root / "cifar").mkdir()
    (root / "idx").mkdir()
    (root / "folder").mkdir()
    cases = {**cifar_cases(root / "cifar"), **idx_cases(root / "idx"), **folder_cases(root / "folder")}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert path.stat().st_blocks * 512 <= 10 * _MiB + 64 * 1024, f"{path} is not a small file"
    names = list(cases)
    results = run_children(root, [(cases[n][1][0], cases[n][1][1:], cases[n][2]) for n in names])
    return {n: (cases[n][0], r) for n, r in zip(names, results)}


CASE_NAMES = [
    "batch symlinked to /dev/zero", "batch is a FIFO", "3 GB batch file", "archive symlinked to /dev/zero",
    "3 GB batch member in a small .tar.gz", "3 GB other member before the batch", "1 GB PAX header",
    "small pickle of nested shared lists", "nested shared lists as labels", "pickle declaring a 1 TiB bytearray",
    "4000 arrays on one shared MiB", "one MiB string encoded 4000 times",
    "IDX .gz declaring 1.7 TB (MNIST loader)", "IDX .gz declaring 1.7 TB (read_idx)",
    "IDX .gz declaring 200 MiB, holding 9 GiB", "1-item IDX then 9 GiB of zeros in the gzip member",
    "1-item IDX then 10 MB of empty gzip members", "1-item IDX then 10 MB of zero padding",
    "raw 1-item IDX then 16 GiB (sparse)", "MNIST images symlinked to /dev/zero", "IDX path is a FIFO",
    "9000x9000 PNG of a few KB", "12 PNGs of 5000x5000, 876 KB together", "float TIFF with a NaN pixel",
    "16-bit RGB PNG",
]


def test_every_case_is_listed(outcomes):
    assert sorted(outcomes) == sorted(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_file_is_refused_in_bounded_memory(outcomes, name):
    fragment, out = outcomes[name]
    report = f"{name}: {out['class']} after {out['seconds']:.2f} s, peak {out['peak_kb'] / 1024:.0f} MB: " \
             f"{out['message'][:500]}"
    print(report)
    assert out["dataset_error"], report
    assert fragment in out["message"], report
    assert out["peak_kb"] < PEAK_LIMIT_MB * 1024, report


def test_a_folder_nested_1500_deep_loads_without_recursion_error(tmp_path):
    from PIL import Image

    from nnlite.data import load_image_folder

    root = tmp_path / "deep"
    root.mkdir()
    Image.fromarray(np.full((4, 4), 100, np.uint8)).save(root / "top.png")
    deep = root
    for _ in range(1500):                                   # one level at a time: Path.mkdir(parents=True) recurses
        deep = deep / "d"
        os.mkdir(deep)
    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(deep / "bottom.png")
    shallow = root.joinpath(*["d"] * 3)
    Image.fromarray(np.full((4, 4), 50, np.uint8)).save(shallow / "mid.png")
    try:
        with pytest.warns(UserWarning, match="more than 32 levels deep were not searched"):
            X, names = load_image_folder(root, mode="L")
    finally:
        remove_deep(root, deep)
    assert names == ["d/d/d/mid.png", "top.png"] and X.shape == (2, 4, 4)


def test_16_bit_grey_keeps_its_precision_and_16_bit_colour_is_refused(tmp_path):
    from PIL import Image

    from nnlite.images import ImageError, read_image

    grey = np.array([[0x0100, 0x01FF]], np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    x = read_image(tmp_path / "g16.png", notes=[])
    assert x[0, 0] != x[0, 1] and abs(x[0, 1] * 65535 - 0x01FF) < 0.01
    _png16_rgb(tmp_path / "c16.png", np.array([[[0x0100, 0x01FF, 0xFFFF]]], ">u2"))
    with pytest.raises(ImageError, match=r"c16\.png: 16-bit colour PNG: Pillow decodes only 8 of the 16 bits"):
        read_image(tmp_path / "c16.png")


def test_read_image_refuses_a_fifo_without_opening_it(tmp_path):
    from nnlite.images import ImageError, image_size, read_image

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for fn in (read_image, image_size):
        with pytest.raises(ImageError, match=r"pipe\.png: is a FIFO, expected an image file \(a regular file\)"):
            fn(fifo)
