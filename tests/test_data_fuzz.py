"""Hypothesis fuzz of the IDX and CIFAR parsers: any input loads or raises DatasetError, nothing else."""
import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nnlite.data.cifar import _parse_batch, _read_members
from nnlite.data.errors import DatasetError
from nnlite.data.idx import read_idx

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_VALID_IDX = bytes([0, 0, 0x08, 3]) + (4).to_bytes(4, "big") + (3).to_bytes(4, "big") \
    + (2).to_bytes(4, "big") + bytes(range(24))
_VALID_GZ = gzip.compress(_VALID_IDX)


def _idx_outcome(data: bytes):
    """read_idx on bytes: an ndarray or DatasetError; anything else fails the test."""
    try:
        out = read_idx(io.BytesIO(data), name="fuzz.idx")
    except DatasetError as exc:
        assert "fuzz.idx" in str(exc)
        return None
    assert isinstance(out, np.ndarray)
    return out


@FUZZ
@given(st.binary(max_size=300))
def test_idx_random_bytes(data):
    _idx_outcome(data)


@FUZZ
@given(st.binary(min_size=0, max_size=64),
       st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF]),
       st.integers(0, 40),
       st.lists(st.integers(0, 2**32 - 1), max_size=6))
@example(b"", 0x08, 6, [0, 0, 7, 19190, 8283962, 8288551])  # once crashed reshape with a NumPy ValueError
def test_idx_plausible_headers(payload, code, ndim, dims):
    """Headers that look right, with random sizes and payloads: truncation and size checks."""
    header = bytes([0, 0, code, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
    data = header + payload
    for blob in (data, gzip.compress(data)):
        out = _idx_outcome(blob)
        if out is not None:
            assert out.nbytes == len(payload)


@FUZZ
@given(st.integers(0, len(_VALID_GZ) - 1), st.booleans())
def test_idx_truncated_valid_files(cut, compressed):
    full = _VALID_GZ if compressed else _VALID_IDX
    cut = min(cut, len(full) - 1)
    assert _idx_outcome(full[:cut]) is None  # every proper prefix is rejected


@FUZZ
@given(st.integers(0, len(_VALID_GZ) - 1), st.integers(1, 255))
def test_idx_corrupted_gzip_byte(pos, flip):
    data = bytearray(_VALID_GZ)
    data[pos] ^= flip
    out = _idx_outcome(bytes(data))
    if out is not None:  # a flip in the gzip header's mtime/OS fields is harmless
        np.testing.assert_array_equal(out, np.arange(24, dtype=np.uint8).reshape(4, 3, 2))


# -------------------------------------------------------------------------------------------------- CIFAR

_BATCH = pickle.dumps({b"data": np.arange(2 * 3072, dtype=np.uint32).astype(np.uint8).reshape(2, 3072),
                       b"labels": [3, 9], b"batch_label": b"fuzz"}, protocol=2)


def _batch_outcome(data: bytes):
    try:
        images, labels = _parse_batch(data, "fuzz_batch", "labels", 10)
    except DatasetError as exc:
        assert "fuzz_batch" in str(exc)
        return None
    assert images.shape[1:] == (3, 32, 32) and len(images) == len(labels)
    return images, labels


@FUZZ
@given(st.binary(max_size=300))
def test_cifar_random_bytes(data):
    _batch_outcome(data)


@FUZZ
@given(st.integers(0, len(_BATCH) - 1))
def test_cifar_truncated_batch(cut):
    assert _batch_outcome(_BATCH[:cut]) is None


@FUZZ
@given(st.integers(0, len(_BATCH) - 1), st.integers(1, 255))
def test_cifar_corrupted_batch_byte(pos, flip):
    data = bytearray(_BATCH)
    data[pos] ^= flip
    _batch_outcome(bytes(data))


@pytest.fixture(scope="module")
def archive_bytes():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(_BATCH)
        tar.addfile(info, io.BytesIO(_BATCH))
    return buf.getvalue()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_cifar_truncated_archive(tmp_path_factory, archive_bytes, data):
    cut = data.draw(st.integers(0, len(archive_bytes) - 1))
    path = tmp_path_factory.mktemp("fuzz") / "cifar-10-python.tar.gz"
    path.write_bytes(archive_bytes[:cut])
    try:
        members = _read_members(path, ["test_batch"])
    except DatasetError as exc:
        assert str(path) in str(exc)
        return
    # A cut inside the gzip trailer can still deliver the whole member: it must then parse.
    (blob, name), = members.values()
    assert _batch_outcome(blob) is not None
