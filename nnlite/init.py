"""Weight initialisers. Each returns a new array of ``shape``; ``fan_in``/``fan_out`` follow PyTorch.

For a weight of shape ``(n_in, n_out)`` (nnlite's Linear layout) fan_in = n_in and fan_out = n_out;
for a conv weight ``(out_channels, in_channels, kh, kw)`` fan_in = in_channels*kh*kw and
fan_out = out_channels*kh*kw. Pass ``fan_in``/``fan_out`` explicitly for any other layout.
"""
from __future__ import annotations

import math

import numpy as np

from .module import DEFAULT_DTYPE
from .random import as_generator

#: PyTorch's gains: 1 for the linear and sigmoid cases, 5/3 for tanh, sqrt(2) for ReLU (He et al.),
#: 3/4 for SELU; leaky ReLU's depends on its slope (see :func:`calculate_gain`).
_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0),
          "leaky_relu": None, "selu": 0.75}
#: Leaky ReLU's slope when ``calculate_gain('leaky_relu')`` is given none (PyTorch's default).
DEFAULT_LEAKY_SLOPE = 0.01


def calculate_gain(nonlinearity: str = "relu", param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's ``calculate_gain``); for 'leaky_relu' with
    slope ``a`` it is ``sqrt(2 / (1 + a^2))``."""
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: {sorted(_GAINS)}")
    if nonlinearity == "leaky_relu":
        slope = DEFAULT_LEAKY_SLOPE if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    return _GAINS[nonlinearity]


def _fans(shape: tuple[int, ...], fan_in: int | None, fan_out: int | None) -> tuple[int, int]:
    if fan_in is not None and fan_out is not None:
        return fan_in, fan_out
    if len(shape) < 2:
        raise ValueError(f"cannot infer fan_in/fan_out from a shape of {len(shape)} dims {shape}; pass them")
    if len(shape) == 2:  # (n_in, n_out): x @ W
        fi, fo = shape
    else:  # (out, in, kh, kw)
        receptive = int(np.prod(shape[2:]))
        fi, fo = shape[1] * receptive, shape[0] * receptive
    return fan_in or fi, fan_out or fo


def uniform(shape: tuple[int, ...], bound: float, random_state=None, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """U(-bound, bound)."""
    rng = as_generator(random_state)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def xavier_uniform(shape: tuple[int, ...], gain: float = 1.0, fan_in: int | None = None, fan_out: int | None = None,
                   random_state=None, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fi, fo = _fans(shape, fan_in, fan_out)
    return uniform(shape, gain * math.sqrt(6.0 / (fi + fo)), random_state, dtype)


def xavier_normal(shape: tuple[int, ...], gain: float = 1.0, fan_in: int | None = None, fan_out: int | None = None,
                  random_state=None, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fi, fo = _fans(shape, fan_in, fan_out)
    rng = as_generator(random_state)
    return (rng.standard_normal(shape) * (gain * math.sqrt(2.0 / (fi + fo)))).astype(dtype)


def kaiming_uniform(shape: tuple[int, ...], a: float = 0.0, nonlinearity: str = "leaky_relu", mode: str = "fan_in",
                    fan_in: int | None = None, fan_out: int | None = None, random_state=None,
                    dtype=DEFAULT_DTYPE) -> np.ndarray:
    """He et al. (2015): U(-b, b), b = gain * sqrt(3 / fan). ``a`` is the leaky-ReLU slope."""
    fi, fo = _fans(shape, fan_in, fan_out)
    fan = {"fan_in": fi, "fan_out": fo}[_check_mode(mode)]
    gain = calculate_gain(nonlinearity, a)
    return uniform(shape, gain * math.sqrt(3.0 / fan), random_state, dtype)


def kaiming_normal(shape: tuple[int, ...], a: float = 0.0, nonlinearity: str = "leaky_relu", mode: str = "fan_in",
                   fan_in: int | None = None, fan_out: int | None = None, random_state=None,
                   dtype=DEFAULT_DTYPE) -> np.ndarray:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan)."""
    fi, fo = _fans(shape, fan_in, fan_out)
    fan = {"fan_in": fi, "fan_out": fo}[_check_mode(mode)]
    rng = as_generator(random_state)
    return (rng.standard_normal(shape) * (calculate_gain(nonlinearity, a) / math.sqrt(fan))).astype(dtype)


def orthogonal(shape: tuple[int, ...], gain: float = 1.0, random_state=None, dtype=DEFAULT_DTYPE) -> np.ndarray:
    r"""Saxe et al. (2014): a (semi-)orthogonal matrix, times ``gain``.

    The weight is seen as a matrix ``M`` of ``shape[0]`` rows and ``prod(shape[1:])`` columns (for a conv
    weight ``(C_out, C_in, kh, kw)``: one row per output channel, ``C_in * kh * kw`` columns). With ``A`` a
    standard Gaussian matrix of the taller of the two shapes and ``A = QR`` its QR decomposition, the
    columns of ``Q`` are multiplied by the signs of ``diag(R)`` (so that ``Q`` is uniformly distributed,
    Haar measure) and ``M = gain * Q`` or ``gain * Q^T``:

    .. math::
        M M^T = g^2 I \ \text{(rows} \le \text{columns)}, \qquad M^T M = g^2 I \ \text{(otherwise)}.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or min(shape) < 1:
        raise ValueError(f"orthogonal: needs a shape of at least 2 dims, all >= 1, got {shape}")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    rng = as_generator(random_state)
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))  # (tall, short)
    q, r = np.linalg.qr(a)                                        # q: (tall, short), orthonormal columns
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)                      # sign fix: unique, Haar-distributed
    m = q.T if rows < cols else q                                 # (rows, cols)
    return (gain * m).reshape(shape).astype(dtype)


def _check_mode(mode: str) -> str:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return mode


#: Name -> initialiser, for ``Linear(init=...)`` (Glorot's and He's names are aliases).
INITIALIZERS = {
    "xavier_uniform": xavier_uniform, "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal, "glorot_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform, "he_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal, "he_normal": kaiming_normal,
    "orthogonal": orthogonal,
}
