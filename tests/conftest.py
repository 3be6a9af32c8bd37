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


def numerical_gradient_5pt(f, x, h=1e-3):
    """``df/dx`` by the five-point stencil, ``x`` perturbed in place.

    ``(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h``: truncation error O(h^4), so a larger step
    keeps float64 round-off far below 1e-7 for whole-model losses. The differences are taken before
    they are combined, so a function that does not depend on ``x`` gives exactly 0.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        values = {}
        for k in (2, 1, -1, -2):
            flat_x[i] = old + k * h
            values[k] = f()
        flat_x[i] = old
        flat_g[i] = (8 * (values[1] - values[-1]) - (values[2] - values[-2])) / (12 * h)
    return grad
