"""Check a hand-written backward against central differences, in float64.

For a module ``f`` with output ``y = f(x)`` we check the scalar ``L = sum(y * R)`` for a fixed random
``R`` (so every output element matters). Its analytic gradients are ``f.backward(R)`` (w.r.t. ``x``)
and the parameters' ``.grad``; the numerical ones are

.. math:: \\frac{\\partial L}{\\partial \\theta_i} \\approx \\frac{L(\\theta + h e_i) - L(\\theta - h e_i)}{2h}.

Each is compared with CS231n's relative error ``max |a - b| / max(1e-8, |a| + |b|)`` (elementwise, then
the maximum; :data:`REL_ERROR_FLOOR`), which is below 1e-7 (:data:`DEFAULT_TOL`) for a correct backward
of a smooth function in float64, with steps ``h = 1e-6`` (:data:`DEFAULT_EPS`). Keep inputs
out of saturation (``|x|`` of a few units for tanh/sigmoid): where a true gradient is ~1e-5, float64
round-off alone gives relative errors near 1e-7.

Example
-------
>>> import nnlite, numpy as np
>>> layer = nnlite.Linear(3, 2, random_state=0)
>>> result = nnlite.gradcheck(layer, np.random.default_rng(0).normal(size=(4, 3)))
>>> result.passed
True
>>> print(result)  # doctest: +SKIP
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .module import Module

#: Central-difference step: in float64 its truncation error (h^2) and round-off (1e-16 / h) are both
#: about 1e-12 relative to the gradient.
DEFAULT_EPS = 1e-6
#: A correct backward of a smooth function passes below this relative error in float64.
DEFAULT_TOL = 1e-7
#: Denominator floor of the relative error, so that two (nearly) zero gradients compare as equal.
REL_ERROR_FLOOR = 1e-8


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, tuple]:
    """CS231n relative error ``max |a - b| / max(1e-8, |a| + |b|)`` and the index where it is worst."""
    a = np.asarray(analytic, dtype=np.float64)
    b = np.asarray(numeric, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: analytic gradient has shape {a.shape}, numerical has {b.shape}")
    if a.size == 0:
        return 0.0, ()
    err = np.abs(a - b) / np.maximum(REL_ERROR_FLOOR, np.abs(a) + np.abs(b))
    flat = int(np.argmax(err))
    return float(err.reshape(-1)[flat]), tuple(int(i) for i in np.unravel_index(flat, a.shape))


@dataclass
class GradcheckResult:
    """Per-tensor relative errors of a gradient check.

    Attributes
    ----------
    errors : dict name -> float
        Worst relative error of each checked tensor (``'input'`` and dotted parameter names).
    where : dict name -> tuple
        Index of that worst element.
    max_rel_error : float
        The worst over all tensors; ``worst`` names its tensor and index.
    tol : float
        Threshold for ``passed``.
    """

    errors: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)
    analytic: dict = field(default_factory=dict, repr=False)
    numeric: dict = field(default_factory=dict, repr=False)
    tol: float = DEFAULT_TOL

    @property
    def max_rel_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def worst(self) -> tuple[str, tuple]:
        if not self.errors:
            return ("", ())
        name = max(self.errors, key=self.errors.get)
        return name, self.where[name]

    @property
    def passed(self) -> bool:
        return self.max_rel_error < self.tol

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        w = max([len(n) for n in self.errors] + [6])
        lines = [f"{'tensor':<{w}}  {'shape':<14} {'rel. error':>11}  worst at"]
        for name, err in self.errors.items():
            shape = str(tuple(self.analytic[name].shape))
            flag = "" if err < self.tol else "  <-- FAIL"
            lines.append(f"{name:<{w}}  {shape:<14} {err:11.2e}  {self.where[name]}{flag}")
        status = "PASSED" if self.passed else "FAILED"
        name, idx = self.worst
        lines.append(f"{status}: max relative error {self.max_rel_error:.2e} (tol {self.tol:.0e}) in {name} at {idx}")
        return "\n".join(lines)


def numerical_gradient(f: Callable[[], float | np.ndarray], x: np.ndarray, eps: float = DEFAULT_EPS,
                       project: np.ndarray | None = None) -> np.ndarray:
    """Central differences of ``f()`` w.r.t. the array ``x``, which is perturbed in place.

    ``f()`` returns a scalar, or an array ``y`` when ``project`` is given; then the derivative of
    ``sum(y * project)`` is taken as ``sum((y(x+h) - y(x-h)) * project) / 2h``: subtracting the outputs
    element by element before summing avoids the cancellation of two large, nearly equal sums.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):   # index x itself: a reshape of a non-contiguous x would be a copy
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old
        diff = f_plus - f_minus if project is None else np.sum((f_plus - f_minus) * project)
        grad[i] = diff / (2 * eps)
    return grad


def check_gradient(f: Callable[[np.ndarray], float], grad_f: Callable[[np.ndarray], np.ndarray], x,
                   eps: float = DEFAULT_EPS, tol: float = DEFAULT_TOL, name: str = "x") -> GradcheckResult:
    """Check ``grad_f(x)`` (the analytic gradient of the scalar ``f(x)``) by central differences.

    ``x`` is copied to float64. Returns a :class:`GradcheckResult` with one entry ``name``.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    analytic = np.asarray(grad_f(x.copy()), dtype=np.float64)
    numeric = numerical_gradient(lambda: float(f(x)), x, eps)
    result = GradcheckResult(tol=tol)
    _record(result, name, analytic, numeric)
    return result


def gradcheck(module, *inputs: np.ndarray, eps: float = DEFAULT_EPS, tol: float = DEFAULT_TOL,
              wrt_input: bool = True, wrt_params: bool = True, random_state=0, target=None) -> GradcheckResult:
    """Gradient check of a Module (or a Loss) in float64.

    Parameters
    ----------
    module : nnlite.Module or nnlite.losses.Loss
        A Module is deep-copied and cast to float64 (your module is left untouched); its random
        generators (dropout masks, VAE noise) are reset before every evaluation so each one sees the
        same randomness. A Loss is checked w.r.t. its prediction: ``gradcheck(loss, pred, target)``.
    *inputs : ndarray
        The input ``x`` (for a Loss: ``pred, target``). Keep it away from kinks (ReLU at 0, ``|.|`` at 0).
    eps : float
        Step of the central differences.
    tol : float
        ``passed`` is ``max_rel_error < tol``.
    wrt_input, wrt_params : bool
        Which gradients to check.
    random_state : seed for the projection ``R`` of the output.

    Returns
    -------
    GradcheckResult
        ``print(result)`` shows a table of every tensor's error; ``result.worst`` names the worst.
    """
    if hasattr(module, "backward") and not isinstance(module, Module) and hasattr(module, "reduction"):
        return _gradcheck_loss(module, *inputs, eps=eps, tol=tol)
    if not isinstance(module, Module):
        raise TypeError(f"gradcheck expects an nnlite Module or Loss, got {type(module).__name__}; "
                        "for a plain function use check_gradient(f, grad_f, x)")
    if len(inputs) != 1:
        raise ValueError(f"gradcheck of a Module takes one input array, got {len(inputs)}")
    m = copy.deepcopy(module).double()
    x = np.array(inputs[0], dtype=np.float64, copy=True)
    gens = m.random_generators()
    states = [g.bit_generator.state for g in gens]

    def restore():
        for g, s in zip(gens, states):
            g.bit_generator.state = s

    restore()
    y = np.asarray(m(x))
    R = np.random.default_rng(random_state).standard_normal(y.shape)

    def outputs():
        restore()
        return np.array(m(x), dtype=np.float64, copy=True)  # copy: a layer may return x itself

    # analytic
    restore()
    m.zero_grad()
    m(x)
    dx = m.backward(R.copy())
    result = GradcheckResult(tol=tol)
    if wrt_input:
        _record(result, "input", dx, numerical_gradient(outputs, x, eps, project=R))
    if wrt_params:
        analytic = {name: p.grad.copy() for name, p in m.named_parameters()}
        for name, p in m.named_parameters():
            _record(result, name, analytic[name], numerical_gradient(outputs, p.data, eps, project=R))
    return result


def _gradcheck_loss(loss, pred, target, eps, tol):
    pred = np.array(pred, dtype=np.float64, copy=True)
    target = np.asarray(target)
    if np.issubdtype(target.dtype, np.floating):
        target = target.astype(np.float64)
    loss.forward(pred, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred, eps)
    result = GradcheckResult(tol=tol)
    _record(result, "pred", analytic, numeric)
    return result


def _record(result, name, analytic, numeric):
    err, idx = rel_error(analytic, numeric)
    result.errors[name] = err
    result.where[name] = idx
    result.analytic[name] = np.asarray(analytic, dtype=np.float64)
    result.numeric[name] = numeric
