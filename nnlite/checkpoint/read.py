"""Reading a checkpoint: entry by entry, each against its declared shape and dtypes, within a byte budget."""
from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._format import (
    _BUFFER_DTYPES,
    _MAGIC,
    _MAX_META_BYTES,
    _MAX_NDIM,
    _MAX_TREE_DEPTH,
    _META,
    _MIN_READ_BUDGET,
    _WEIGHT_DTYPES,
    MAX_EXPANSION,
    CheckpointError,
)
from .validate import _validate_meta

__all__ = ["Checkpoint", "read_checkpoint"]


def _tree_arrays(obj, depth=0) -> list[str]:
    """The array entries an encoded optimizer tree refers to; raises ValueError on a malformed tree."""
    if depth > _MAX_TREE_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_TREE_DEPTH} levels")
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            name = obj["__array__"]
            if not isinstance(name, str) or not name.startswith("optimizer/"):
                raise ValueError(f"array reference {name!r} is not an optimizer entry")
            return [name]
        if set(obj) == {"__dict__"} and isinstance(obj["__dict__"], list):
            out = []
            for item in obj["__dict__"]:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int, float, bool))):
                    raise ValueError("a dict entry is not a [key, value] pair")
                out += _tree_arrays(item[1], depth + 1)
            return out
        (kind, items), = obj.items() if len(obj) == 1 else ((None, None),)
        if kind in ("__tuple__", "__list__") and isinstance(items, list):
            return [a for v in items for a in _tree_arrays(v, depth + 1)]
        raise ValueError(f"unknown node with keys {sorted(map(str, obj))[:4]}")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return []
    raise ValueError(f"unexpected {type(obj).__name__}")


def _decode_tree(obj, arrays):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__dict__" in obj:
            return {k: _decode_tree(v, arrays) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode_tree(v, arrays) for v in obj["__tuple__"])
        if "__list__" in obj:
            return [_decode_tree(v, arrays) for v in obj["__list__"]]
    return obj


# ---------------------------------------------------------------------------------------------- reading
class Checkpoint:
    """The content of a checkpoint file, as returned by :func:`read_checkpoint` / :func:`load_checkpoint`.

    Attributes
    ----------
    path : Path
    meta : dict
        The whole JSON metadata (validated: every field has the type this module writes).
    model_state : dict of str -> ndarray
        Weights and buffers under their dotted keys.
    optimizer_state : dict or None
        In the form ``Optimizer.load_state_dict`` takes.
    config : dict
        ``{"class": ..., "config": {...}}`` of the model.
    epoch, global_step : int
    history : dict of lists
    extra : dict
    """

    def __init__(self, path, meta, model_state, optimizer_state, optimizer_error=None):
        self.path = Path(path)
        self.meta = meta
        self.model_state = model_state
        self.optimizer_state = optimizer_state
        self.optimizer_error = optimizer_error
        tr = meta.get("trainer") or {}
        self.config = meta.get("model") or {}
        self.epoch = int(tr.get("epoch", 0))
        self.global_step = int(tr.get("global_step", 0))
        self.history = tr.get("history", {})
        self.extra = meta.get("extra", {})

    @property
    def mid_epoch(self) -> bool:
        return bool((self.meta.get("trainer") or {}).get("position"))

    @property
    def n_weights(self) -> int:
        """How many weight and buffer elements the file holds."""
        return int(sum(v.size for v in self.model_state.values()))

    def __repr__(self):
        return (f"Checkpoint({str(self.path)!r}, model={self.config.get('class')}, epoch={self.epoch}, "
                f"global_step={self.global_step})")


class _Reader:
    """Reads the entries of one archive, each against the shape and dtypes it must have, within a byte
    budget. Raises ValueError (turned into CheckpointError by the caller) on anything off."""

    def __init__(self, zf: zipfile.ZipFile, file_size: int):
        self.zf = zf
        self.entries = {info.filename: info for info in zf.infolist()}
        self.budget = max(_MIN_READ_BUDGET, MAX_EXPANSION * file_size)

    def names(self) -> list[str]:
        return [n[:-4] if n.endswith(".npy") else n for n in self.entries]

    def has(self, key) -> bool:
        return f"{key}.npy" in self.entries

    def array(self, key: str, dtypes, shape=None, max_bytes=None, text=False) -> np.ndarray:
        info = self.entries.get(f"{key}.npy")
        if info is None:
            raise ValueError(f"entry {key!r} is missing")
        limit = self.budget if max_bytes is None else min(self.budget, max_bytes)
        if info.file_size > limit:
            raise ValueError(f"entry {key!r} declares {info.file_size:,} bytes, more than the {limit:,} this file "
                             f"may hold")
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
            raise ValueError(f"entry {key!r} expands from {info.compress_size:,} to {info.file_size:,} bytes")
        with self.zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"entry {key!r} has .npy format version {version}")
            got_shape, fortran, dtype = header
            if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
                raise ValueError(f"entry {key!r} holds {dtype} values (objects or records), not numbers")
            if (dtype.kind != "U" or not text) and (text or dtype.newbyteorder("=") not in dtypes):
                expected = "text" if text else " or ".join(str(d) for d in dtypes)
                raise ValueError(f"entry {key!r} holds {dtype} values, expected {expected}")
            if len(got_shape) > _MAX_NDIM:
                raise ValueError(f"entry {key!r} has {len(got_shape)} dimensions")
            if shape is not None and tuple(got_shape) != tuple(shape):
                raise ValueError(f"entry {key!r} has shape {tuple(got_shape)}, the metadata says {tuple(shape)}")
            n_bytes = math.prod(got_shape) * dtype.itemsize
            if f.tell() + n_bytes != info.file_size:
                raise ValueError(f"entry {key!r} is {info.file_size:,} bytes, its header promises "
                                 f"{f.tell() + n_bytes:,}")
            self.budget -= n_bytes
            if self.budget < 0:
                raise ValueError(f"the arrays add up to more than this file may hold ({MAX_EXPANSION}x its size)")
            out = np.empty(got_shape, dtype, order="F" if fortran else "C")
            view = memoryview(out.reshape(-1, order="A").view(np.uint8)) if out.size else memoryview(b"")
            done = 0
            while done < n_bytes:
                got = f.readinto(view[done:])
                if not got:
                    raise EOFError(f"entry {key!r} ends after {done:,} of {n_bytes:,} bytes")
                done += got
            f.read(1)  # reach the member's end, where zipfile checks its CRC
        return out.astype(dtype.newbyteorder("="), copy=False) if dtype.kind != "U" else out


def read_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint file; raises :class:`CheckpointError` naming the file.

    No pickle, no import, and bounded memory (see the module's "What reading a file guarantees").
    """
    path = Path(path)
    if not path.exists():
        hint = ""
        if path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            hint = f" (did you mean {path.with_name(path.name + '.npz')}?)"
        raise CheckpointError(f"no such checkpoint file{hint}", path)
    if path.is_dir():
        raise CheckpointError("is a folder, not a checkpoint file (pass the .npz file inside it)", path)
    if not path.is_file():
        raise CheckpointError("is not a regular file (a device or a pipe?); pass a checkpoint .npz file", path)
    try:
        with zipfile.ZipFile(path) as zf:
            reader = _Reader(zf, path.stat().st_size)
            if not reader.has(_META):
                files = reader.names()
                kind = "a single NumPy array (.npy), " if path.suffix == ".npy" else ""
                raise CheckpointError(f"not an nnlite checkpoint: {kind}the archive has no {_META!r} entry "
                                      f"(entries: {', '.join(files[:6])}{', ...' if len(files) > 6 else ''})", path)
            text = reader.array(_META, dtypes=(), shape=(), max_bytes=_MAX_META_BYTES, text=True)
            meta = _parse_meta(text, path)
            model_state = {k: reader.array(f"model/{k}", _BUFFER_DTYPES, shape=s)
                           for k, s in meta.get("model_keys", {}).items()}
            optimizer_state, optimizer_error = _read_optimizer(reader, meta.get("optimizer"))
    except CheckpointError:
        raise
    except zipfile.BadZipFile:
        what = "a single NumPy array (.npy), not a checkpoint archive" if _is_npy(path) else \
            "truncated, damaged or not a .npz checkpoint archive"
        raise CheckpointError(f"cannot read the checkpoint: the file is {what}; use an earlier checkpoint or "
                              "retrain", path) from None
    except (zlib.error, EOFError, OSError, ValueError, KeyError, IndexError, SyntaxError,
            NotImplementedError, MemoryError, OverflowError, TypeError) as exc:
        raise CheckpointError(f"cannot read the checkpoint: the file is truncated or damaged "
                              f"({type(exc).__name__}: {exc}); use an earlier checkpoint or retrain", path) from None
    return Checkpoint(path, meta, model_state, optimizer_state, optimizer_error)


def _is_npy(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(6) == b"\x93NUMPY"
    except OSError:
        return False


def _read_optimizer(reader: _Reader, om):
    """``(state, error)``: the optimizer state, or None and why it cannot be used (the weights still can)."""
    if not om:
        return None, None
    try:
        if "tree" in om:
            refs = _tree_arrays(om["tree"])
            arrays = {r: reader.array(r, _WEIGHT_DTYPES) for r in dict.fromkeys(refs)}
            return _decode_tree(om["tree"], arrays), None
        # the layout of the first checkpoints: a plain Optimizer's state only
        state = {}
        for i, names in om["state_keys"].items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("state_keys must map parameter indices to lists of names")
            state[int(i)] = {n: reader.array(f"optimizer/{i}/{n}", _WEIGHT_DTYPES) for n in names}
        hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(om["hyper"]).items()}
        return {"type": om["type"], "hyper": hyper, "step_count": om["step_count"], "state": state}, None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, f"damaged checkpoint: optimizer entry {exc} is missing or malformed"


def _parse_meta(text: np.ndarray, path) -> dict:
    try:
        meta = json.loads(str(text))
    except RecursionError:
        raise CheckpointError(f"damaged checkpoint: its {_META} entry nests deeper than any checkpoint does",
                              path) from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise CheckpointError(f"damaged checkpoint: its {_META} entry is not valid JSON ({exc})", path) from None
    if not isinstance(meta, dict) or meta.get("format") != _MAGIC:
        raise CheckpointError("not an nnlite checkpoint (its metadata has no nnlite-checkpoint marker)", path)
    _validate_meta(meta, path)
    return meta
