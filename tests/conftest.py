"""Shared fixtures: where the real datasets are, and float64 random inputs away from kinks."""
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path | None:
    """$NNLITE_DATA, else ../shared/data beside the project, else None."""
    env = os.environ.get("NNLITE_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture
def real_data():
    root = data_root()
    if root is None:
        pytest.skip("real datasets absent: set NNLITE_DATA to the folder holding mnist/ and fashion-mnist/")
    return root


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def away_from_zero(rng, shape, margin=0.05):
    """Normal samples with |x| >= margin: keeps ReLU-like kinks out of the central differences."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)


def remove_deep(root, deep):
    """Remove a chain of nested folders from the bottom up (pytest's own clean-up recurses and fails)."""
    while deep != root:
        for entry in os.scandir(deep):
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
        os.rmdir(deep)
        deep = deep.parent
