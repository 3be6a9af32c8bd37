"""Weights that ship with nnlite, and :func:`pretrained`, which returns them as ready-to-use models.

The folder holds nnlite checkpoints and ``MANIFEST.json``, one entry per file::

    {"photo-denoiser-rgb": {"file": "photo-denoiser-rgb.npz", "sha256": "...",
                            "command": "python -m benchmarks.photo_train --channels rgb ...", "seed": 0, ...},
     "photo-denoiser-grey": {...}}

``command`` is the script run (from the repository's root) that produces the file from the data named
in it; ``benchmarks/photo_train.py`` writes the file and its entry. Loading checks the file's SHA-256
against the manifest **before** reading it, then reads it with nnlite's checkpoint reader
(:func:`nnlite.models.restore_model`: no pickle, bounded memory), so a missing, truncated or altered
file is an error that names it, the checksum expected and the command that regenerates it.

Names
-----
``"photo-denoiser"``
    :class:`PhotoDenoiser`: grey, RGB and RGBA photos in [0, 1] to the grey or the RGB model.
``"photo-denoiser-rgb"``, ``"photo-denoiser-grey"``
    The fitted :class:`~nnlite.models.ResidualDenoiser` of each kind, as they are.

Nothing is read when ``nnlite`` is imported: only :func:`pretrained` opens a file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..checkpoint import CheckpointError

__all__ = ["pretrained", "PhotoDenoiser", "WeightsError", "manifest", "known_names", "sha256_of", "FOLDER", "MANIFEST"]

#: The folder of the shipped weights (inside the installed package).
FOLDER = Path(__file__).resolve().parent
#: The manifest's file name inside a weights folder.
MANIFEST = "MANIFEST.json"
#: Names that combine several manifest entries: name -> {kind: manifest entry}.
COMBINED = {"photo-denoiser": {"grey": "photo-denoiser-grey", "rgb": "photo-denoiser-rgb"}}
#: Largest MANIFEST.json read, in bytes (checked before it is read; the shipped one is about 2 KB).
MAX_MANIFEST_BYTES = 1 << 20
#: The model class of every entry a combined name uses.
ENTRY_CLASS = "ResidualDenoiser"
#: How to regenerate the weights when even the manifest is missing.
DEFAULT_COMMAND = "python -m benchmarks.photo_train (from the repository's root, with NNLITE_DATA set)"


class WeightsError(CheckpointError):
    """A shipped weights file (or its manifest) is missing or does not match its recorded checksum."""


def manifest(folder=None) -> dict:
    """The parsed ``MANIFEST.json`` of ``folder`` (default :data:`FOLDER`): ``{name: entry}``."""
    import os
    import stat

    path = Path(FOLDER if folder is None else folder) / MANIFEST
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise WeightsError(f"the weights manifest is missing (expected {MANIFEST} listing each weights file and "
                           f"its sha256); regenerate the weights with: {DEFAULT_COMMAND}", path)
    if st.st_size > MAX_MANIFEST_BYTES:
        raise WeightsError(f"the weights manifest holds {st.st_size:,} bytes, more than the {MAX_MANIFEST_BYTES:,} a "
                           f"manifest may have; regenerate the weights with: {DEFAULT_COMMAND}", path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise WeightsError(f"the weights manifest holds more than {MAX_MANIFEST_BYTES:,} bytes; regenerate the "
                               f"weights with: {DEFAULT_COMMAND}", path)
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"the weights manifest is not valid JSON ({exc}); regenerate the weights with: "
                           f"{DEFAULT_COMMAND}", path) from None
    except RecursionError:
        raise WeightsError(f"the weights manifest nests too deeply to be a manifest (a manifest is one object of "
                           f"flat entries); regenerate the weights with: {DEFAULT_COMMAND}", path) from None
    except ValueError as exc:  # an integer of thousands of digits
        raise WeightsError(f"the weights manifest holds a value JSON cannot give back ({exc}); regenerate the "
                           f"weights with: {DEFAULT_COMMAND}", path) from None
    bad = [k for k, v in doc.items() if not (isinstance(v, dict) and isinstance(v.get("file"), str)
                                             and isinstance(v.get("sha256"), str))] if isinstance(doc, dict) else None
    if bad is None or bad:
        raise WeightsError(f"the weights manifest must map each name to an object with 'file' and 'sha256'; "
                           f"{'it is not an object' if bad is None else f'entries {bad} are not'}", path)
    return doc


def known_names(folder=None) -> list[str]:
    """Every name :func:`pretrained` accepts for ``folder``: the combined names and the manifest's entries."""
    try:
        entries = list(manifest(folder))
    except WeightsError:
        entries = sorted({n for parts in COMBINED.values() for n in parts.values()})
    return sorted(COMBINED) + sorted(set(entries) - set(COMBINED))


def sha256_of(path) -> str:
    """The hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_entry(name: str, folder, expected_class: str | None = None):
    """The fitted model of one manifest entry, after its checksum is verified (and, given
    ``expected_class``, after the checkpoint's model class is checked before the model is built)."""
    from ..models.persistence import restore_model

    entries = manifest(folder)
    folder = Path(FOLDER if folder is None else folder)
    if name not in entries:
        raise WeightsError(f"the weights manifest has no entry {name!r} (it lists {sorted(entries)}); regenerate "
                           f"the weights with: {DEFAULT_COMMAND}", folder / MANIFEST)
    entry = entries[name]
    path = folder / entry["file"]
    command = entry.get("command") or DEFAULT_COMMAND
    if not path.is_file():
        raise WeightsError(f"the weights of {name!r} are missing (expected a file with sha256 {entry['sha256']}); "
                           f"regenerate them with: {command}", path)
    got = sha256_of(path)
    if got != entry["sha256"]:
        raise WeightsError(f"the weights of {name!r} do not match the manifest: sha256 {got}, expected "
                           f"{entry['sha256']} (the file is altered or from another run); regenerate them with: "
                           f"{command}", path)
    try:
        if expected_class is not None:
            from ..checkpoint import read_checkpoint

            ck = read_checkpoint(path)
            got = str(ck.config.get("class", "?")) if isinstance(ck.config, dict) else "?"
            if got.rsplit(".", 1)[-1] != expected_class:
                raise WeightsError(f"the weights of {name!r} hold a {got[:80]} model, but {name!r} must be a "
                                   f"{expected_class}; regenerate them with: {command}", path)
            model = restore_model(path, ck)
        else:
            model = restore_model(path)
    except WeightsError:
        raise
    except CheckpointError as exc:
        raise WeightsError(f"the weights of {name!r} match their checksum but cannot be loaded ({exc}); regenerate "
                           f"them with: {command}", path) from None
    return model


def pretrained(name: str, folder=None):
    """A ready-to-use model from the weights shipped with nnlite.

    Parameters
    ----------
    name : str
        ``"photo-denoiser"`` (a :class:`PhotoDenoiser`: grey, RGB or RGBA photos), or one manifest
        entry such as ``"photo-denoiser-rgb"`` / ``"photo-denoiser-grey"`` (the fitted
        :class:`~nnlite.models.ResidualDenoiser` itself).
    folder : str or Path, optional
        A folder with its own ``MANIFEST.json`` and weights (default: the package's, :data:`FOLDER`).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    WeightsError
        When a file is missing or its SHA-256 differs from the manifest's (the message names the file,
        the checksum expected and the command that regenerates it).

    Examples
    --------
    >>> import nnlite                                                       # doctest: +SKIP
    >>> clean = nnlite.pretrained("photo-denoiser").denoise(photo)  # (H, W[, 1|3|4]) in [0, 1]  # doctest: +SKIP
    """
    if not isinstance(name, str):
        raise TypeError(f"pretrained: name must be a str, got {type(name).__name__}")
    if name in COMBINED:
        return PhotoDenoiser({kind: _load_entry(entry, folder, ENTRY_CLASS) for kind, entry in COMBINED[name].items()},
                             name=name, entries={kind: manifest(folder)[e] for kind, e in COMBINED[name].items()})
    if name not in known_names(folder):
        raise ValueError(f"pretrained: unknown name {name!r}; known names: {', '.join(known_names(folder))}")
    return _load_entry(name, folder)


class PhotoDenoiser:
    """A grey and an RGB :class:`~nnlite.models.ResidualDenoiser` behind one :meth:`denoise` for any photo.

    Attributes
    ----------
    models : dict
        ``{"grey": ResidualDenoiser, "rgb": ResidualDenoiser}``.
    entries : dict
        Their manifest entries (file, sha256, the command that trained them, ...).
    """

    def __init__(self, models: dict, name: str = "photo-denoiser", entries: dict | None = None):
        for kind, channels in (("grey", 1), ("rgb", 3)):
            got = getattr(models.get(kind), "n_channels_", None)
            if got != channels:
                raise ValueError(f"PhotoDenoiser: models[{kind!r}] must be a fitted {channels}-channel denoiser, "
                                 f"got {type(models.get(kind)).__name__} with {got} channel(s)")
        self.models = dict(models)
        self.name = name
        self.entries = dict(entries or {})

    def denoise(self, image, tile=256, progress=None) -> np.ndarray:
        """The denoised photo, of the shape of ``image``.

        Parameters
        ----------
        image : array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``
            One photo, float values in [0, 1]: grey goes to the grey model, RGB to the RGB model; the
            alpha channel of RGBA is passed through untouched.
        tile, progress
            As :meth:`nnlite.models.ResidualDenoiser.denoise` (tiles of at most ``tile`` pixels a side;
            ``progress(done, total)`` in pixels).

        Returns
        -------
        ndarray, float32, the shape of ``image``, values in [0, 1].
        """
        x = np.asarray(image)
        if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] not in (1, 3, 4)):
            raise ValueError(f"{self.name}.denoise: image must be one photo (H, W), (H, W, 1), (H, W, 3) or "
                             f"(H, W, 4), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{self.name}.denoise: image must hold floats in [0, 1], got dtype {x.dtype} "
                            "(for 8-bit pixels divide by 255)")
        x = x.astype(np.float32, copy=False)
        kw = {"tile": tile, "progress": progress}
        if x.ndim == 2:
            return self.models["grey"].denoise(x, **kw)
        if x.shape[2] == 1:
            return self.models["grey"].denoise(x[..., 0], **kw)[..., None]
        rgb = self.models["rgb"].denoise(np.ascontiguousarray(x[..., :3]), **kw)
        if x.shape[2] == 3:
            return rgb
        return np.concatenate([rgb, x[..., 3:]], axis=2)

    def describe(self) -> str:
        """One line: each model's class, size and checksum, and the command that trained it."""
        parts = []
        for kind in ("rgb", "grey"):
            m, e = self.models[kind], self.entries.get(kind, {})
            n = sum(p.data.size for p in m.net_.parameters())
            parts.append(f"{kind}: {type(m).__name__}(architecture={m.architecture!r}, width={m.width}, "
                         f"depth={m._depth()}), {n:,} weights, sha256 {str(e.get('sha256', '?'))[:12]}..., "
                         f"`{e.get('command', '?')}`")
        return "; ".join(parts)

    def __repr__(self):
        return f"PhotoDenoiser(name={self.name!r}, kinds={sorted(self.models)})"
