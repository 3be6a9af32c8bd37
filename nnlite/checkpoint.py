"""Checkpoints: the file format of one ``.npz`` file with everything a run needs to continue bit for bit.

What is inside
--------------
A checkpoint is a plain NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable without nnlite):

==============================  ======================================================================
entry                           content
==============================  ======================================================================
``nnlite.json``                 a JSON string (0-d unicode array): format version, model class and
                                **configuration**, epoch, global step, history, optimizer type and
                                hyper-parameters, and the state of every random generator involved
                                (the trainer's shuffling generator, the model's
                                :meth:`~nnlite.Module.random_generators`, the trainer's extra
                                ``generators`` such as input-noise streams, and any named ones passed to
                                :func:`save_checkpoint`), plus the position inside an epoch when saved
                                in the middle of one
``model/<dotted.key>``          the model's ``state_dict()`` (weights and buffers)
``optimizer/<i>/<name>``        the optimizer's per-parameter buffers (Adam's ``exp_avg``, ...)
==============================  ======================================================================

The model configuration lives **inside** the archive, so weights and configuration can never get out
of step. A human-readable copy of the JSON is also written next to it as ``<name>.json`` (sidecar,
``sidecar=True``, the default); it is informational only and never read back.

Crash safety
------------
:func:`save_checkpoint` writes through :func:`nnlite.atomic.atomic_write`: a crash or ``SIGKILL`` at any
moment leaves either the previous checkpoint or the new one, never a half-written file. It refuses to
write weights or optimizer state that contain NaN or inf, so a diverging run cannot overwrite a good
checkpoint with garbage.

What reading a file guarantees
------------------------------
A checkpoint is data, never code, and a hostile one is refused with :class:`CheckpointError`:

* **No code runs.** There is no pickle (the archive is read entry by entry with :mod:`zipfile` and
  NumPy's header parser, object dtypes are refused), and the model class is looked up by name in the
  registry of nnlite's model classes (:mod:`nnlite.models._registry`), never imported from the text.
* **Bounded memory.** Only the entries the metadata names are read; each entry's declared size (zip
  directory and ``.npy`` header) is checked against the shape the metadata promises before any data is
  read, and the arrays in all may not expand to more than ``MAX_EXPANSION`` times the file's size (a
  genuine checkpoint is stored uncompressed, so it is about the file's size). Rebuilding a model from
  its configuration may allocate no more parameters than the file holds
  (:func:`nnlite.module.parameter_budget`).
* **Nothing changes on failure.** :func:`load_checkpoint` checks everything it will assign first, and if
  assigning still fails it puts back the model's, optimizer's, trainer's and generators' previous state.
* **Exact types.** Weights must be float32 or float64, integer buffers int64; the metadata must have the
  types this module writes (a string where a dict belongs, a version that is not a number, JSON nested
  deeper than the format ever is, a generator state for another bit generator: each is a
  ``CheckpointError`` naming the field).

``tests/test_checkpoint_hostile.py`` proves each guarantee on crafted files.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .module import Module

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint", "CheckpointError",
           "model_config", "FORMAT_VERSION", "MAX_EXPANSION"]

#: Bumped when the layout changes incompatibly; newer files are refused with a clear message.
FORMAT_VERSION = 1
_META = "nnlite.json"
_MAGIC = "nnlite-checkpoint"

#: The arrays of a file may expand to at most this many times the file's size (or ``_MIN_READ_BUDGET``).
MAX_EXPANSION = 20
_MIN_READ_BUDGET = 64 * 2**20        # bytes: any file may hold this much, however small it is
_MAX_META_BYTES = 64 * 2**20         # the JSON metadata, as a NumPy unicode array (4 bytes a character)
_MAX_NDIM = 8                        # weights are at most 4-D; a header claiming more is not ours
_MAX_TREE_DEPTH = 16                 # optimizer states nest 3-5 levels deep
_WEIGHT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_BUFFER_DTYPES = _WEIGHT_DTYPES + (np.dtype(np.int64),)


class CheckpointError(ValueError):
    """A checkpoint file cannot be read, or does not fit the model/optimizer/trainer it is loaded into.

    The message names the file and the problem. ``path`` holds the file name.
    """

    def __init__(self, message: str, path=None):
        self.path = None if path is None else os.fspath(path)
        if self.path is not None and not message.startswith(self.path):
            message = f"{self.path}: {message}"
        super().__init__(message)


# ---------------------------------------------------------------------------------------------- model config
def model_config(model) -> dict:
    """``{"class": "module.Name", "config": {...}}`` describing how to rebuild ``model``.

    Uses ``model.get_config()`` when the model has it (Keras style), else ``model.get_params()``
    (scikit-learn style, keeping JSON-able values only), else an empty configuration. Values that
    JSON cannot hold (generators, arrays) are dropped: the weights come from the checkpoint anyway.
    nnlite's own models are named ``nnlite.models.<Name>``, whichever file defines them.
    """
    cls = type(model)
    if hasattr(model, "get_config"):
        cfg = model.get_config()
    elif hasattr(model, "get_params"):
        cfg = model.get_params() if _accepts_no_args(model.get_params) else model.get_params(deep=False)
    else:
        cfg = {}
    module = "nnlite.models" if cls.__module__.startswith("nnlite.models.") else cls.__module__
    return {"class": f"{module}.{cls.__qualname__}", "config": _jsonable(cfg)}


def class_name(dotted: str) -> str:
    """The class name a checkpoint's ``model.class`` stands for (its last component)."""
    return dotted.rpartition(".")[2] if isinstance(dotted, str) else ""


def _accepts_no_args(fn):
    import inspect
    try:
        inspect.signature(fn).bind()
        return True
    except TypeError:
        return False


def _jsonable(value):
    """Keep what JSON can hold exactly; tuples become lists; drop generators and other objects."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v) for v in value]
        return items if all(i is not _DROP for i in items) else _DROP
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _jsonable(v)
            if v is not _DROP:
                out[str(k)] = v
        return out
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return _DROP


_DROP = object()


def _as_module(model) -> Module:
    """The Module holding the weights: the model itself, or the ``module_`` / ``net_`` of a wrapper."""
    if isinstance(model, Module):
        return model
    for attr in ("module_", "net_", "network_", "model_", "module", "net"):
        m = getattr(model, attr, None)
        if isinstance(m, Module):
            return m
    raise TypeError(f"{type(model).__name__} is not an nnlite Module and holds none (looked for "
                    "module_, net_, network_, model_); is the model fitted?")


# ---------------------------------------------------------------------------------------------- saving
def nonfinite_entries(module: Module | None = None, optimizer=None) -> list[str]:
    """Names of the weights and optimizer buffers that hold NaN or inf (empty when all are finite).

    Reads the arrays in place (no copies), so the trainer can afford it after every epoch.
    """
    bad = []
    if module is not None:
        for name, p in module.named_parameters():
            if not np.isfinite(p.data).all():
                bad.append(name)
        for name, buf in module.named_buffers():
            if np.issubdtype(np.asarray(buf).dtype, np.floating) and not np.isfinite(buf).all():
                bad.append(name)

    def walk(obj, where):
        if isinstance(obj, np.ndarray):
            if np.issubdtype(obj.dtype, np.floating) and not np.isfinite(obj).all():
                bad.append(f"optimizer state {where}")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{where}/{k}" if where else str(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{where}/{i}")

    if optimizer is not None:
        state = getattr(optimizer, "state", None)
        walk(state if isinstance(state, dict) else optimizer.state_dict(), "")
    return bad


def _check_finite(path, module: Module, optimizer):
    bad = nonfinite_entries(module, optimizer)
    if bad:
        raise CheckpointError(f"refusing to save a checkpoint whose weights contain NaN or inf ({', '.join(bad[:5])}"
                              f"{', ...' if len(bad) > 5 else ''}); the previous checkpoint, if any, is kept. "
                              "The run has diverged: try a lower learning rate.", path)


def save_checkpoint(path, model, optimizer=None, trainer=None, config=None, generators=None, extra=None,
                    sidecar: bool = True) -> Path:
    """Write a checkpoint atomically and return its path.

    Parameters
    ----------
    path : str or Path
        Destination, conventionally ending in ``.npz`` (appended if missing).
    model : Module, or a model object holding one (``module_``/``net_`` attribute)
    optimizer : nnlite.optim.Optimizer, optional
    trainer : nnlite.Trainer, optional
        Epoch, global step, history, shuffling generator, extra generators, position in the epoch.
    config : dict, optional
        The model's configuration (default: :func:`model_config` of ``model``).
    generators : dict of str -> numpy.random.Generator, optional
        More generators to save by name (restored by the same names in :func:`load_checkpoint`).
    extra : dict, optional
        Any JSON-able data of yours (CLI arguments, data set name, ...), returned as ``Checkpoint.extra``.
    sidecar : bool
        Also write ``<name>.json`` with the same metadata for people to read (never read back).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    module = _as_module(model)
    _check_finite(path, module, optimizer)
    arrays = {}
    for k, v in module.state_dict().items():
        arrays[f"model/{k}"] = v
    meta = {
        "format": _MAGIC,
        "version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nnlite_version": _nnlite_version(),
        "model": model_config(model) if config is None else {"class": model_config(model)["class"],
                                                              "config": _jsonable(config)},
        "module_class": f"{type(module).__module__}.{type(module).__qualname__}",
        "model_keys": {k: list(v.shape) for k, v in module.state_dict().items()},
        "fitted": _fitted_attributes(model),
        "model_generators": [g.bit_generator.state for g in module.random_generators()],
        "generators": {str(k): g.bit_generator.state for k, g in (generators or {}).items()},
        "extra": _jsonable(extra or {}),
        "optimizer": None,
        "trainer": None,
    }
    if meta["extra"] is _DROP:
        raise TypeError("save_checkpoint: extra= must be JSON-able data (dict of str, numbers, lists)")
    if optimizer is not None:
        sd = optimizer.state_dict()
        params = getattr(optimizer, "params", None)
        meta["optimizer"] = {"type": sd.get("type", type(optimizer).__name__),
                             "n_params": None if params is None else len(params),
                             "tree": _encode_tree(sd, "optimizer", arrays)}
    if trainer is not None:
        meta["trainer"] = trainer.state_dict()
    text = json.dumps(meta, indent=1, allow_nan=True)
    arrays[_META] = np.array(text)

    atomic_write(path, lambda f: np.savez(f, **arrays))
    if sidecar:
        atomic_write_text(path.with_suffix(".json"), text + "\n")
    return path


def _fitted_attributes(model) -> dict:
    """The model's JSON-able fitted attributes: scikit-learn style ``name_`` (``input_shape_``, ...) and,
    under ``"_private"``, private scalars/strings set by ``fit`` (``_layout``, ...), which
    the model's restore puts back only where rebuilding the model did not set them."""
    out, private = {}, {}
    for name, value in vars(model).items():
        if isinstance(value, Module) or name.startswith("__") or name in ("_parameters", "_buffers", "_modules"):
            continue
        if name.endswith("_") and not name.startswith("_"):
            v = _jsonable(value)
            if v is not _DROP:
                out[name] = v
        elif name.startswith("_") and (value is None or isinstance(value, (bool, int, float, str))):
            private[name] = value
    if private:
        out["_private"] = private
    return out


def _encode_tree(obj, path, arrays):
    """JSON-able copy of a nested state (dicts, lists, numbers) with arrays moved to ``arrays[path]``."""
    if isinstance(obj, np.ndarray):
        arrays[path] = obj
        return {"__array__": path}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode_key(k), _encode_tree(v, f"{path}/{k}", arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__tuple__" if isinstance(obj, tuple) else "__list__":
                [_encode_tree(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save_checkpoint: cannot store a {type(obj).__name__} in an optimizer state (at {path})")


def _encode_key(k):
    if isinstance(k, (bool, str, int, float)) or k is None:
        return k
    raise TypeError(f"save_checkpoint: optimizer state keys must be str or int, got {type(k).__name__}")


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
        if len(obj) == 1 and next(iter(obj)) in ("__tuple__", "__list__") and isinstance(next(iter(obj.values())), list):
            return [a for v in next(iter(obj.values())) for a in _tree_arrays(v, depth + 1)]
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


def _nnlite_version():
    try:
        from . import __version__
        return __version__
    except ImportError:  # pragma: no cover - during partial imports
        return "unknown"


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


def _validate_meta(meta: dict, path):
    """Every field read later has the type :func:`save_checkpoint` writes; else a CheckpointError naming it."""
    def need(ok, field, expected):
        if not ok:
            value = meta
            for part in field.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            shown = json.dumps(value)[:80] if value is not None else "nothing"
            raise CheckpointError(f"damaged checkpoint: its metadata field {field!r} should be {expected}, "
                                  f"it holds {shown}", path)

    version = meta.get("version")
    need(_is_int(version) and version >= 0, "version", "a whole number")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format version {version} is newer than this nnlite reads "
                              f"({FORMAT_VERSION}); upgrade nnlite", path)
    model = meta.get("model", {})
    need(isinstance(model, dict) and isinstance(model.get("class", ""), str)
         and isinstance(model.get("config") or {}, dict), "model", 'an object {"class": str, "config": object}')
    keys = meta.get("model_keys", {})
    need(isinstance(keys, dict) and all(isinstance(s, list) and len(s) <= _MAX_NDIM and all(_is_int(d) and d >= 0
                                                                                       for d in s)
                                        for s in keys.values()),
         "model_keys", "an object of weight name -> shape (a list of sizes)")
    need(isinstance(meta.get("fitted", {}), dict), "fitted", "an object")
    need(isinstance(meta.get("extra", {}), dict), "extra", "an object")
    gens = meta.get("model_generators", [])
    need(isinstance(gens, list) and all(isinstance(g, dict) for g in gens), "model_generators",
         "a list of generator states")
    named = meta.get("generators", {})
    need(isinstance(named, dict) and all(isinstance(g, dict) for g in named.values()), "generators",
         "an object of name -> generator state")
    om = meta.get("optimizer")
    need(om is None or (isinstance(om, dict) and isinstance(om.get("type", ""), str)
                        and (om.get("n_params") is None or _is_int(om.get("n_params")))),
         "optimizer", 'null or an object {"type": str, "n_params": int, "tree": ...}')
    tr = meta.get("trainer")
    need(tr is None or isinstance(tr, dict), "trainer", "null or an object")
    if tr is not None:
        for name in ("epoch", "global_step"):
            need(_is_int(tr.get(name, 0)) and tr.get(name, 0) >= 0, f"trainer.{name}", "a whole number >= 0")
        need(_is_int(tr.get("batch_size", 1)) and tr.get("batch_size", 1) >= 1, "trainer.batch_size",
             "a whole number >= 1")
        history = tr.get("history", {})
        need(isinstance(history, dict) and all(isinstance(v, list) and all(_is_number(x) for x in v)
                                               for v in history.values()),
             "trainer.history", "an object of name -> list of numbers")
        need(isinstance(tr.get("rng"), dict), "trainer.rng", "a generator state")
        need(isinstance(tr.get("generators", []), list) and all(isinstance(g, dict) for g in tr.get("generators", [])),
             "trainer.generators", "a list of generator states")
        pos = tr.get("position")
        need(pos is None or (isinstance(pos, dict) and all(_is_int(pos.get(k)) and pos.get(k) >= 0
                                                           for k in ("batch", "seen", "n_samples"))
                             and isinstance(pos.get("sums"), dict)
                             and all(_is_number(v) for v in pos.get("sums").values())
                             and isinstance(pos.get("rng_at_epoch_start"), dict)),
             "trainer.position", "null or the position inside an epoch")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_generator_state(state, generator: np.random.Generator, what, path):
    """A bit-generator state that ``generator`` accepts: tried on a fresh bit generator of its kind."""
    kind = type(generator.bit_generator)
    probe = kind()
    try:
        probe.state = state
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise CheckpointError(f"damaged checkpoint: {what} is not a valid {kind.__name__} state ({exc})",
                              path) from None


def _check_array_dtypes(module: Module, state: dict, path):
    """A float weight takes float32 or float64 values; an integer buffer takes integers of its dtype."""
    own = module.state_dict()
    for k, v in state.items():
        if k not in own:
            continue
        want = own[k].dtype
        ok = v.dtype in _WEIGHT_DTYPES if np.issubdtype(want, np.floating) else v.dtype == want
        if not ok:
            raise CheckpointError(f"the checkpoint's {k!r} holds {v.dtype} values, the model's is {want}", path)


def _check_optimizer_state(optimizer, state, path, where="optimizer"):
    """The saved state has this optimizer's hyper-parameter names, values its constructor accepts, and
    float buffers; an optimizer group's members are checked one by one."""
    own = optimizer.state_dict()
    if not isinstance(state, dict):
        raise CheckpointError(f"damaged checkpoint: the {where} state is malformed", path)
    if "hyper" not in own:  # a group: {"type": ..., member: member's state, ...}
        for key, sub in own.items():
            if isinstance(sub, dict):
                if key not in state:
                    raise CheckpointError(f"damaged checkpoint: the {where} state has no {key!r} member", path)
                _check_optimizer_state(optimizer[key], state[key], path, f"{where} {key!r}")
        return
    if not isinstance(state.get("hyper"), dict) or not isinstance(state.get("state", {}), dict):
        raise CheckpointError(f"damaged checkpoint: the {where} state is malformed", path)
    if not _is_int(state.get("step_count", 0)) or state.get("step_count", 0) < 0:
        raise CheckpointError(f"damaged checkpoint: {where} step_count {state.get('step_count')!r} is not a "
                              "whole number >= 0", path)
    hyper_own = own.get("hyper", {})
    if set(state["hyper"]) - set(hyper_own):
        raise CheckpointError(f"the checkpoint's {where} has hyper-parameters {sorted(state['hyper'])}, this "
                              f"{own.get('type')} has {sorted(hyper_own)}", path)
    for name, value in state["hyper"].items():
        mine = hyper_own[name]
        if isinstance(mine, (tuple, list)):
            ok = isinstance(value, (tuple, list)) and len(value) == len(mine) and all(
                _is_number(v) and math.isfinite(v) for v in value)
        elif _is_number(mine):
            ok = _is_number(value) and math.isfinite(value)
        else:
            ok = type(value) is type(mine)
        if not ok:
            raise CheckpointError(f"damaged checkpoint: {where} hyper-parameter {name}={value!r} is not of "
                                  f"the kind {own.get('type')} uses ({mine!r})", path)
    try:  # the values themselves, by the optimizer's own rules (eps > 0, betas in [0, 1), ...)
        type(optimizer)(optimizer.params, **{**hyper_own, **state["hyper"]})
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"damaged checkpoint: {where} hyper-parameters refused ({exc})", path) from None
    for i, st in state.get("state", {}).items():
        if not isinstance(st, dict):
            raise CheckpointError(f"damaged checkpoint: {where} state of parameter {i} is malformed", path)
        for k, v in st.items():
            if not isinstance(v, np.ndarray) or v.dtype not in _WEIGHT_DTYPES:
                raise CheckpointError(f"damaged checkpoint: {where} state {k!r} of parameter {i} is not a "
                                      "float array", path)


# ---------------------------------------------------------------------------------------------- loading
def load_checkpoint(path, model=None, optimizer=None, trainer=None, generators=None, strict: bool = True) -> Checkpoint:
    """Read a checkpoint and restore it into whatever is given; return the :class:`Checkpoint`.

    Parameters
    ----------
    path : str or Path
    model : Module or model object, optional
        Receives the weights and the states of its :meth:`~nnlite.Module.random_generators`. Pass
        ``model=None`` and call :func:`nnlite.restore_model` to rebuild it from the stored configuration.
    optimizer : Optimizer, optional
        Receives hyper-parameters, step count and buffers (must be of the saved type and size).
    trainer : Trainer, optional
        Receives epoch, global step, history, generator states and the position inside an epoch.
    generators : dict of str -> Generator, optional
        Restored by name from the generators passed to :func:`save_checkpoint`.
    strict : bool
        Missing/unexpected weight keys are errors (shape mismatches always are).

    Nothing is modified unless everything fits: every check runs before the first assignment, and if
    an assignment still fails, what was already assigned is put back.

    Raises
    ------
    CheckpointError
        Naming the file and what does not fit (keys, shapes, dtypes, optimizer type, generator counts).
    """
    ck = read_checkpoint(path)
    meta = ck.meta
    saved_class = (ck.config or {}).get("class", "?")
    module = None
    if model is not None:
        try:
            module = _as_module(model)
        except TypeError as exc:
            raise CheckpointError(f"cannot load into this model: {exc}", path) from None
        problems = _diff_state(module, ck.model_state, strict)
        if problems:
            this = f"{type(model).__module__}.{type(model).__qualname__}"
            raise CheckpointError(
                f"the checkpoint was made for another architecture ({saved_class} with config "
                f"{json.dumps((ck.config or {}).get('config', {}))[:500]}), it does not fit this {this}: "
                + " | ".join(problems), path)
        _check_array_dtypes(module, ck.model_state, path)
        gens, saved = module.random_generators(), meta.get("model_generators", [])
        if len(gens) != len(saved):
            raise CheckpointError(f"the checkpoint holds {len(saved)} random generator(s) of the model, this model "
                                  f"has {len(gens)}; it was made for another architecture ({saved_class})", path)
        for i, (g, st) in enumerate(zip(gens, saved)):
            _check_generator_state(st, g, f"the model's generator {i}", path)
    if optimizer is not None:
        if ck.optimizer_error:
            raise CheckpointError(ck.optimizer_error + "; the weights can be loaded, but the run cannot be resumed",
                                  path)
        if ck.optimizer_state is None:
            raise CheckpointError("the checkpoint holds no optimizer state (it was saved without optimizer=); "
                                  "load the weights only, with load_checkpoint(path, model=...)", path)
        own = optimizer.state_dict()
        saved_type = ck.optimizer_state.get("type", meta["optimizer"].get("type"))
        if saved_type != own.get("type", type(optimizer).__name__):
            raise CheckpointError(f"the checkpoint's optimizer is {saved_type}, this one is "
                                  f"{type(optimizer).__name__}; use the same optimizer to resume", path)
        params = getattr(optimizer, "params", None)
        n_saved = meta["optimizer"].get("n_params")
        if params is not None and n_saved is not None:
            if n_saved != len(params):
                raise CheckpointError(f"the checkpoint's optimizer updates {n_saved} parameters, this one "
                                      f"{len(params)}; it was made for another architecture", path)
            for i, st in ck.optimizer_state.get("state", {}).items():
                if not (_is_int(i) or (isinstance(i, str) and i.isdigit())) or not 0 <= int(i) < len(params):
                    raise CheckpointError(f"damaged checkpoint: optimizer state for parameter {i!r}, this "
                                          f"optimizer has {len(params)}", path)
                for k, v in (st.items() if isinstance(st, dict) else ()):
                    if np.shape(v) != params[int(i)].shape:
                        raise CheckpointError(f"optimizer state {k!r} of parameter {i} has shape {np.shape(v)}, "
                                              f"the parameter has {params[int(i)].shape}; another architecture", path)
        _check_optimizer_state(optimizer, ck.optimizer_state, path)
    tstate = meta.get("trainer")
    if trainer is not None:
        if tstate is None:
            raise CheckpointError("the checkpoint holds no trainer state (saved without trainer=); it cannot "
                                  "resume a run, only provide weights", path)
        if len(tstate.get("generators", [])) != len(trainer.generators):
            raise CheckpointError(f"the checkpoint's trainer had {len(tstate.get('generators', []))} extra "
                                  f"generator(s), this trainer has {len(trainer.generators)}", path)
        if tstate.get("position") and int(tstate.get("batch_size", trainer.batch_size)) != trainer.batch_size:
            raise CheckpointError(f"the checkpoint was saved in the middle of an epoch with batch_size="
                                  f"{tstate['batch_size']}, this trainer has batch_size={trainer.batch_size}", path)
        _check_generator_state(tstate["rng"], trainer.rng, "the trainer's shuffling generator", path)
        for i, (g, st) in enumerate(zip(trainer.generators, tstate.get("generators", []))):
            _check_generator_state(st, g, f"the trainer's generator {i}", path)
        if tstate.get("position"):
            _check_generator_state(tstate["position"]["rng_at_epoch_start"], trainer.rng,
                                   "the shuffling generator at the epoch's start", path)
    named = meta.get("generators", {})
    for name, g in (generators or {}).items():
        if name not in named:
            raise CheckpointError(f"the checkpoint holds no generator named {name!r} (it has: {sorted(named)})", path)
        _check_generator_state(named[name], g, f"generator {name!r}", path)

    # everything fits: apply, and put everything back if an assignment still fails
    snapshot = _Snapshot(module, optimizer, trainer, generators)
    try:
        if module is not None:
            snapshot.applying("module")
            module.load_state_dict(ck.model_state, strict=strict)
            for g, st in zip(module.random_generators(), meta.get("model_generators", [])):
                g.bit_generator.state = st
        if optimizer is not None:
            snapshot.applying("optimizer")
            optimizer.load_state_dict(ck.optimizer_state)
        if trainer is not None:
            snapshot.applying("trainer")
            trainer.load_state_dict(tstate)
        snapshot.applying("generators")
        for name, g in (generators or {}).items():
            g.bit_generator.state = named[name]
    except Exception as exc:
        snapshot.restore()
        raise CheckpointError(f"the checkpoint does not fit ({type(exc).__name__}: {exc}); nothing was changed",
                              path) from None
    return ck


class _Snapshot:
    """The state of everything :func:`load_checkpoint` may assign, to put back what was assigned (or half
    assigned) when a later assignment fails."""

    def __init__(self, module, optimizer, trainer, generators):
        self.module, self.optimizer, self.trainer = module, optimizer, trainer
        self.weights = None if module is None else module.state_dict()
        self.module_gens = [] if module is None else [(g, g.bit_generator.state) for g in module.random_generators()]
        self.optimizer_state = None if optimizer is None else optimizer.state_dict()
        self.trainer_state = None if trainer is None else (trainer.state_dict(), trainer._resume_position)
        self.named = [(g, g.bit_generator.state) for g in (generators or {}).values()]
        self.touched: list[str] = []

    def applying(self, part: str):
        self.touched.append(part)

    def restore(self):
        """Put back the parts touched so far, the one that failed included (it may be half assigned)."""
        if "module" in self.touched:
            self.module.load_state_dict(self.weights)
            for g, st in self.module_gens:
                g.bit_generator.state = st
        if "optimizer" in self.touched:
            _restore_optimizer(self.optimizer, self.optimizer_state)
        if "trainer" in self.touched:
            state, resume_position = self.trainer_state
            self.trainer.load_state_dict(state)
            self.trainer._resume_position = resume_position
        if "generators" in self.touched:
            for g, st in self.named:
                g.bit_generator.state = st


def _restore_optimizer(optimizer, state):
    try:
        optimizer.load_state_dict(state)
    except Exception:  # noqa: BLE001 - its own loader is what failed: put the fields back directly
        if hasattr(optimizer, "hyper") and isinstance(state.get("hyper"), dict):
            optimizer.hyper.clear()
            optimizer.hyper.update(state["hyper"])
            optimizer.step_count = state["step_count"]
            optimizer.state = {i: {k: v.copy() for k, v in st.items()} for i, st in state["state"].items()}


def _diff_state(module: Module, state: dict, strict: bool) -> list[str]:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if mismatched:
        problems.append("shape mismatch: " + "; ".join(mismatched[:20]))
    if strict and missing:
        problems.append("missing from the checkpoint: " + ", ".join(missing[:20]))
    if strict and unexpected:
        problems.append("not in the model: " + ", ".join(unexpected[:20]))
    return problems

