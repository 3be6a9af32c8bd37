"""Fused Numba kernels around the matrix products of dense layers, losses and the VAE's sampling step.

A dense layer ``y = act(x @ W + b)`` costs one BLAS product plus elementwise work that NumPy would do in
three or four passes with temporaries (add the bias, compute the activation, keep a mask; then
multiply the incoming gradient by the derivative and sum it over rows for the bias). Here each side is
**one pass** over the ``(N, n_out)`` block, in place where possible:

* :func:`bias_act_forward`: ``y <- act(y + b)`` in place over the product ``y = x @ W``.
* :func:`act_backward`: ``dz = dy * act'(.)``, written from the *output* ``y`` (every supported
  activation's derivative is a function of its output, so the layer keeps no input copy), and
  ``db += sum_rows(dz)`` in the same pass.

and for the losses and :class:`nnlite.models.VAE`'s training step (one pass computing both the value and
the gradient):

* :func:`bce_with_logits`: ``sum(max(x,0) - x t + log(1 + e^{-|x|}))`` and ``scale * (sigmoid(x) - t)``.
* :func:`mse`: ``sum((p - t)^2)`` and ``2 scale (p - t)``.
* :func:`gaussian_sample_kl` / :func:`gaussian_sample_kl_backward`: the reparameterization
  ``z = mu + exp(logvar / 2) eps`` with the KL divergence ``-1/2 sum(1 + logvar - mu^2 - e^logvar)``
  and their gradients.

Activation codes (``IDENTITY`` ... ``SOFTPLUS``; the fast backend maps each activation name to its code in
``nnlite.ops.fast._ACT_CODES``), with the derivative written from the output ``y``:

=========== ===================================== =====================================
name        y = act(v)                            dy/dv from y
=========== ===================================== =====================================
identity    v                                     1
relu        max(v, 0)                             [y > 0]
leaky_relu  v if v > 0 else alpha v               1 if y > 0 else alpha      (alpha >= 0)
elu         v if v > 0 else alpha (e^v - 1)       1 if y > 0 else y + alpha  (alpha > 0)
sigmoid     1 / (1 + e^-v)                        y (1 - y)
tanh        tanh(v)                               1 - y^2
softplus    log(1 + e^v)                          1 - e^{-y}  (= sigmoid(v))
=========== ===================================== =====================================

Float32 ``exp``/``log1p``/``sigmoid`` are the vectorizable versions of :mod:`.elementwise`; float64 uses
``math``. Kernels run serially below ``PARALLEL_MIN_SIZE`` elements (4 M): waking Numba's sleeping
workqueue threads costs 100-150 us on a 2-core machine, so a sigmoid over 1 M elements took 1.22 ms
serially and 1.55 ms in parallel; the parallel kernel first wins at 4 M (5.0 ms vs 3.4 ms).

Twins: ``tests/test_kernels_dense.py`` compares each kernel with NumPy (float32 and float64, odd shapes,
batch 1), and ``tests/test_kernels_nojit.py`` runs the same comparisons with ``NUMBA_DISABLE_JIT=1``.
"""
from __future__ import annotations

import numba
import numpy as np

from .. import threads as _threads
from .._numba import njit, njit_parallel, prange
from .elementwise import exp, expm1, log1p_unit, sigmoid, tanh

#: ``error_model='numpy'``: a float division by zero gives inf/nan instead of a ZeroDivisionError
#: check, which would stop LLVM from vectorizing the loop (7x slower sigmoid). ``fastmath={'contract'}``
#: lets LLVM fuse ``a * b + c`` into one FMA instruction (one rounding instead of two, so never less
#: accurate): the float32 exp polynomial then runs 1.6x faster (sigmoid over 128 x 784: 151 -> 94 us).
#: (Flags on top of ``nnlite.ops._numba.JIT_FLAGS``.)
KERNEL_FLAGS = dict(error_model="numpy", fastmath={"contract"})
#: For kernels that also sum a loss: 'reassoc' lets LLVM vectorize the running sum (8 partial sums
#: instead of one sequential chain; the total differs from a sequential sum by rounding only).
REDUCE_FLAGS = dict(KERNEL_FLAGS, fastmath={"contract", "reassoc"})

#: Blocks with at least this many elements use the ``parallel=True`` kernels (measured crossover, 2 cores).
PARALLEL_MIN_SIZE = 1 << 22

#: The branches of the dense kernels, one per activation (the ``act`` argument).
IDENTITY, RELU, LEAKY_RELU, ELU, SIGMOID, TANH, SOFTPLUS = range(7)

#: The parallel backward kernel splits the columns into about this many blocks per thread (so that
#: uneven blocks still balance), each at least ``MIN_COLUMN_BLOCK`` columns wide (one block is a row
#: slice that LLVM vectorizes: narrower ones are mostly loop overhead).
BLOCKS_PER_THREAD = 4
MIN_COLUMN_BLOCK = 16


def _use_parallel(size: int) -> bool:
    """Parallel kernels for big blocks, when nnlite.ops.threads' policy allows more than one thread now."""
    return size >= PARALLEL_MIN_SIZE and _threads.sync_numba() > 1


def _jit(fn, flags):
    """(serial, parallel) compiled versions of one kernel (``prange`` is ``range`` in the serial one),
    each with its own Numba cache entry (see ``nnlite.ops._numba.cache_alias``)."""
    return njit(fn, **flags), njit_parallel(fn, **flags)


# ------------------------------------------------------------------------------ dense: bias + activation
def _bias_act_forward(y, b, act, alpha):
    """In place: ``y[i, j] = act(y[i, j] + b[j])`` for ``y`` ``(N, M)``, ``b`` ``(M,)``."""
    N, M = y.shape
    zero, a = y.dtype.type(0), y.dtype.type(alpha)          # constants in y's dtype: float32 math stays float32
    for i in prange(N):
        if act == IDENTITY:
            for j in range(M):
                y[i, j] = y[i, j] + b[j]
        elif act == RELU:
            for j in range(M):
                v = y[i, j] + b[j]
                y[i, j] = zero if v <= zero else v              # NaN stays NaN
        elif act == LEAKY_RELU:
            for j in range(M):
                v = y[i, j] + b[j]
                y[i, j] = v if v > zero else a * v
        elif act == ELU:
            for j in range(M):
                v = y[i, j] + b[j]
                y[i, j] = v if v > zero else a * expm1(v)
        elif act == SIGMOID:
            for j in range(M):
                y[i, j] = sigmoid(y[i, j] + b[j])
        elif act == TANH:
            for j in range(M):
                y[i, j] = tanh(y[i, j] + b[j])
        else:  # SOFTPLUS: max(v, 0) + log(1 + e^{-|v|})
            for j in range(M):
                v = y[i, j] + b[j]
                y[i, j] = (v if v > zero else zero) + log1p_unit(exp(-abs(v)))


def _act_backward(dy, y, act, alpha, dz, db, chunk):
    """``dz = dy * act'`` from the output ``y`` (all ``(N, M)``); ``db += sum_rows(dz)`` if ``len(db) == M``.

    Columns are processed in blocks of ``chunk`` (the parallel version gives each thread whole
    blocks, so the bias sums need no reduction across threads). ``dz`` may be ``dy`` (in place).
    The inner loops index row slices from 0 so that LLVM can drop Numba's negative-index checks and
    vectorize them (turning the ReLU test into a blend instead of a mispredicted branch).
    """
    N, M = y.shape
    n_chunks = (M + chunk - 1) // chunk
    has_db = db.shape[0] == M
    zero, one, a = y.dtype.type(0), y.dtype.type(1), y.dtype.type(alpha)
    for c in prange(n_chunks):
        j0 = c * chunk
        j1 = min(M, j0 + chunk)
        w = j1 - j0
        acc = np.zeros(w, np.float64)                           # bias gradient of this block
        for i in range(N):
            g, o, d = dy[i, j0:j1], y[i, j0:j1], dz[i, j0:j1]   # row slices (views)
            if act == IDENTITY:
                for j in range(w):
                    d[j] = g[j]
            elif act == RELU:
                for j in range(w):
                    d[j] = g[j] if o[j] > zero else zero
            elif act == LEAKY_RELU:
                for j in range(w):
                    d[j] = g[j] if o[j] > zero else a * g[j]
            elif act == ELU:
                for j in range(w):
                    d[j] = g[j] if o[j] > zero else g[j] * (o[j] + a)
            elif act == SIGMOID:
                for j in range(w):
                    d[j] = g[j] * (o[j] * (one - o[j]))
            elif act == TANH:
                for j in range(w):
                    d[j] = g[j] * (one - o[j] * o[j])
            else:  # SOFTPLUS: sigmoid(v) = 1 - e^{-y}
                for j in range(w):
                    d[j] = g[j] * -expm1(-o[j])
            if has_db:
                for j in range(w):
                    acc[j] += d[j]
        if has_db:
            for j in range(w):
                db[j0 + j] += acc[j]


_bias_act_forward_serial, _bias_act_forward_parallel = _jit(_bias_act_forward, KERNEL_FLAGS)
_act_backward_serial, _act_backward_parallel = _jit(_act_backward, KERNEL_FLAGS)

_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0, np.float64)}


def bias_act_forward(y: np.ndarray, b: np.ndarray | None, act: int, alpha: float = 0.0) -> np.ndarray:
    """``y <- act(y + b)`` in place (``b=None``: no bias) and return ``y``; ``y`` ``(N, M)`` C-contiguous."""
    if b is None:
        b = np.zeros(y.shape[1], y.dtype)
    kernel = _bias_act_forward_parallel if _use_parallel(y.size) else _bias_act_forward_serial
    kernel(y, b, act, float(alpha))
    return y


def act_backward(dy: np.ndarray, y: np.ndarray, act: int, alpha: float = 0.0, out: np.ndarray | None = None,
                 db: np.ndarray | None = None) -> np.ndarray:
    """``dz = dy * act'`` (from the output ``y``) into ``out`` (may be ``dy``); adds the row sums to ``db``."""
    dz = np.empty_like(y) if out is None else out
    db_arr = _EMPTY[y.dtype] if db is None else db
    N, M = y.shape
    if _use_parallel(y.size):
        chunk = max(MIN_COLUMN_BLOCK, -(-M // (BLOCKS_PER_THREAD * numba.get_num_threads())))   # ceil
        _act_backward_parallel(dy, y, act, float(alpha), dz, db_arr, chunk)
    else:
        _act_backward_serial(dy, y, act, float(alpha), dz, db_arr, max(M, 1))
    return dz


# ------------------------------------------------------------------------------ losses: value + gradient
def _bce_with_logits(x, t, grad, scale):
    """``grad = scale * (sigmoid(x) - t)``; returns ``sum(max(x, 0) - x t + log(1 + e^{-|x|}))``."""
    N, D = x.shape
    zero, one, sc = x.dtype.type(0), x.dtype.type(1), x.dtype.type(scale)
    total = 0.0
    for i in prange(N):
        s = zero                                         # row sum in x's dtype (8 lanes), total in float64
        for j in range(D):
            xi = x[i, j]
            ti = t[i, j]
            e = exp(-abs(xi))                            # shared by the sigmoid and the log term
            r = one / (one + e)
            grad[i, j] = ((r if xi >= zero else e * r) - ti) * sc
            s += (xi if xi > zero else zero) - xi * ti + log1p_unit(e)
        total += s
    return total


def _mse(p, t, grad, scale):
    """``grad = 2 scale (p - t)``; returns ``sum((p - t)^2)``."""
    N, D = p.shape
    total = 0.0
    two_scale = p.dtype.type(2.0 * scale)
    for i in prange(N):
        s = p.dtype.type(0)                              # row sum in p's dtype (8 lanes), total in float64
        for j in range(D):
            d = p[i, j] - t[i, j]
            grad[i, j] = two_scale * d
            s += d * d
        total += s
    return total


_bce_with_logits_serial, _bce_with_logits_parallel = _jit(_bce_with_logits, REDUCE_FLAGS)
_mse_serial, _mse_parallel = _jit(_mse, REDUCE_FLAGS)


def _as_2d(a):
    return a.reshape(a.shape[0], -1) if a.ndim != 2 else a


def bce_with_logits(x: np.ndarray, t: np.ndarray, grad: np.ndarray, scale: float) -> float:
    """Sum of the BCE-with-logits terms (float), writing ``scale * (sigmoid(x) - t)`` into ``grad``.

    ``x``, ``t``, ``grad``: same shape and dtype, C-contiguous, at least 1-D (a 1-D array is one row).
    """
    x2, t2, g2 = (a.reshape(1, -1) if a.ndim == 1 else _as_2d(a) for a in (x, t, grad))
    kernel = _bce_with_logits_parallel if _use_parallel(x.size) else _bce_with_logits_serial
    return float(kernel(x2, t2, g2, float(scale)))


def mse(p: np.ndarray, t: np.ndarray, grad: np.ndarray, scale: float) -> float:
    """Sum of squared differences (float), writing ``2 scale (p - t)`` into ``grad`` (same rules as above)."""
    p2, t2, g2 = (a.reshape(1, -1) if a.ndim == 1 else _as_2d(a) for a in (p, t, grad))
    kernel = _mse_parallel if _use_parallel(p.size) else _mse_serial
    return float(kernel(p2, t2, g2, float(scale)))


# ------------------------------------------------------------------------------ VAE: sampling + KL
def _gaussian_sample_kl(mu, logvar, eps, z, std, lo, hi):
    """``std = exp(lv / 2)``, ``z = mu + std * eps`` with ``lv = clip(logvar, lo, hi)``; returns the
    summed KL divergence ``-1/2 sum(1 + lv - mu^2 - std^2)``."""
    N, L = mu.shape
    half, lo_t, hi_t = mu.dtype.type(0.5), mu.dtype.type(lo), mu.dtype.type(hi)   # float32 math for float32
    kl = 0.0
    for i in range(N):
        for j in range(L):
            lv = logvar[i, j]
            lv = lo_t if lv < lo_t else (hi_t if lv > hi_t else lv)    # clip; NaN stays NaN
            s = exp(half * lv)
            std[i, j] = s
            z[i, j] = mu[i, j] + s * eps[i, j]
            kl += -0.5 * (1.0 + lv - mu[i, j] * mu[i, j] - s * s)
    return kl


def _gaussian_sample_kl_backward(dz, mu, logvar, std, eps, kl_scale, dmu, dlogvar, lo, hi):
    """Chain rule through ``z = mu + exp(clip(logvar)/2) eps`` plus ``kl_scale`` times the KL gradient::

        dmu     = dz + kl_scale * mu
        dlogvar = [lo <= logvar <= hi] * (dz * eps * std / 2 + kl_scale * (std^2 - 1) / 2)
    """
    N, L = mu.shape
    for i in range(N):
        for j in range(L):
            s = std[i, j]
            dmu[i, j] = dz[i, j] + kl_scale * mu[i, j]
            inside = lo <= logvar[i, j] <= hi
            dlogvar[i, j] = (0.5 * dz[i, j] * eps[i, j] * s + 0.5 * kl_scale * (s * s - 1.0)) if inside else 0.0


_gaussian_sample_kl_jit = njit(_gaussian_sample_kl, **KERNEL_FLAGS)
_gaussian_sample_kl_backward_jit = njit(_gaussian_sample_kl_backward, **KERNEL_FLAGS)


def gaussian_sample_kl(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray, z: np.ndarray, std: np.ndarray,
                       logvar_min: float = -np.inf, logvar_max: float = np.inf) -> float:
    """Fill ``z`` and ``std`` and return the summed ``KL(N(mu, e^logvar) || N(0, I))`` as a float.

    All arrays ``(N, L)``; ``mu``/``logvar`` may be column slices of one ``(N, 2L)`` head output.
    ``logvar`` is clipped to ``[logvar_min, logvar_max]`` first (e.g. [-30, 20] keeps ``exp`` finite in
    float32); where the clip is active, :func:`gaussian_sample_kl_backward` gives ``dlogvar = 0``.
    """
    return float(_gaussian_sample_kl_jit(mu, logvar, eps, z, std, float(logvar_min), float(logvar_max)))


def gaussian_sample_kl_backward(dz: np.ndarray, mu: np.ndarray, logvar: np.ndarray, std: np.ndarray,
                                eps: np.ndarray, kl_scale: float, dmu: np.ndarray, dlogvar: np.ndarray,
                                logvar_min: float = -np.inf, logvar_max: float = np.inf) -> None:
    """Write ``dL/dmu`` and ``dL/dlogvar`` for ``L = sum(dz * z) + kl_scale * KL`` (``dz`` is ``dL/dz``);
    ``dmu``/``dlogvar`` may be column slices of one ``(N, 2L)`` array (the head's gradient)."""
    _gaussian_sample_kl_backward_jit(dz, mu, logvar, std, eps, float(kl_scale), dmu, dlogvar,
                                     float(logvar_min), float(logvar_max))
