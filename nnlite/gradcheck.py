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

A whole model's loss is checked with :func:`check_loss_gradients`: every parameter and the input of
``model.loss_and_grad`` against the five-point stencil.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
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
#: Step of the five-point stencil for a whole model's loss: truncation O(h^4) ~ 1e-12, round-off
#: ~ulp(L) / h ~ 1e-13 for a loss of order 1.
MODEL_EPS = 1e-3


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
    analytic, numeric : dict name -> ndarray
        The gradients compared (``numeric`` is NaN at coordinates that were not checked;
        :func:`check_loss_gradients` also keeps the analytic gradient of parameters it did not check).
    skipped : dict name -> int
        Coordinates :func:`check_loss_gradients` left out because a step crossed a kink (its ``region``).
    """

    errors: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)
    analytic: dict = field(default_factory=dict, repr=False)
    numeric: dict = field(default_factory=dict, repr=False)
    tol: float = DEFAULT_TOL
    skipped: dict = field(default_factory=dict)

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
                       project: np.ndarray | None = None, stencil: int = 3) -> np.ndarray:
    """Central differences of ``f()`` w.r.t. the array ``x``, which is perturbed in place.

    ``f()`` returns a scalar, or an array ``y`` when ``project`` is given; then the derivative of
    ``sum(y * project)`` is taken as ``sum((y(x+h) - y(x-h)) * project) / 2h``: subtracting the outputs
    element by element before summing avoids the cancellation of two large, nearly equal sums.

    ``stencil=5`` uses the five-point rule, truncation error O(h^4) instead of O(h^2):

    .. math:: f'(x) \\approx \\frac{8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))}{12 h}.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):   # index x itself: a reshape of a non-contiguous x would be a copy
        grad[i] = _derivative(f, x, i, eps, project, stencil)[0]
    return grad


def _derivative(f, x, i, eps, project=None, stencil=3, region=None, base=None):
    """``d f / d x[i]`` by the stencil, ``x`` restored afterwards; and whether ``region()`` stayed ``base``
    at every step."""
    if stencil not in (3, 5):
        raise ValueError(f"stencil must be 3 (central differences) or 5 (five-point), got {stencil!r}")
    old = x[i]
    steps = (1, -1) if stencil == 3 else (1, -1, 2, -2)
    values, same = {}, True
    for k in steps:
        x[i] = old + k * eps
        values[k] = f()
        if region is not None:
            same &= np.array_equal(np.asarray(region()), base)
    x[i] = old

    def diff(k):
        d = values[k] - values[-k]
        return d if project is None else np.sum(d * project)

    if stencil == 3:
        return diff(1) / (2 * eps), same
    return (8 * diff(1) - diff(2)) / (12 * eps), same


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


def _frozen_randomness(module: Module) -> Callable[[], None]:
    """A function that puts every generator of ``module`` back in its present state: called before each
    evaluation, a stochastic module (dropout, a VAE's sampling) draws the same numbers every time."""
    gens = module.random_generators()
    states = [g.bit_generator.state for g in gens]

    def restore():
        for g, s in zip(gens, states):
            g.bit_generator.state = s
    return restore


def gradcheck(module, *inputs: np.ndarray, eps: float = DEFAULT_EPS, tol: float = DEFAULT_TOL,
              wrt_input: bool = True, wrt_params: bool = True, random_state=0, target=None,
              stencil: int = 3) -> GradcheckResult:
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
    stencil : {3, 5}
        Central differences, or the five-point rule (truncation O(h^4)) for deep compositions, where a
        larger ``eps`` keeps round-off far below small gradients (see :func:`numerical_gradient`).

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
    restore = _frozen_randomness(m)
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
        _record(result, "input", dx, numerical_gradient(outputs, x, eps, project=R, stencil=stencil))
    if wrt_params:
        analytic = {name: p.grad.copy() for name, p in m.named_parameters()}
        for name, p in m.named_parameters():
            _record(result, name, analytic[name], numerical_gradient(outputs, p.data, eps, project=R, stencil=stencil))
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


def check_loss_gradients(model: Module, *inputs, loss_and_grad: Callable | None = None,
                         loss: Callable | None = None, loss_kwargs: Mapping | None = None,
                         only: str | tuple[str, ...] | None = None, eps: float = MODEL_EPS,
                         tol: float = DEFAULT_TOL, stencil: int = 5, n_coords: int | None = None,
                         candidates: Mapping | None = None, region: Callable[[], np.ndarray] | None = None,
                         zero_atol: float | None = None, random_state=0) -> GradcheckResult:
    """Gradient check of a model's loss: every parameter and the input, in float64.

    The analytic side is one call of ``loss_and_grad(*inputs)``: it adds ``dL/dparam`` into every
    parameter's ``.grad`` (zeroed first) and returns ``L``, or ``(L, dL/dinputs[0])``, or
    ``(L, (dL/dinputs[0], dL/dinputs[1], ...))`` with ``None`` for an input it does not differentiate
    (a flattened or squeezed gradient, such as ``(N, H*W)`` or ``(N, 1, H, W)`` for grey images
    ``(N, H, W)``, is reshaped to its input's shape; a permuted layout, NCHW against NHWC, is refused
    when it shows in the shapes and must otherwise be undone by ``loss_and_grad``).
    The numerical side differentiates ``loss(*inputs)`` by the stencil, perturbing each parameter's
    ``.data`` and each differentiated input in place. Before anything is compared, ``loss`` at the
    unperturbed point must equal the ``L`` of ``loss_and_grad`` (relative 1e-10): both must be the same
    function.

    Parameters
    ----------
    model : nnlite.Module
        Whose parameters are checked; all of them must be float64 (call ``model.double()`` first). Its
        random generators (dropout masks, VAE noise) are restored before every evaluation, so each one
        sees the same randomness. The model is changed only in its ``.grad``, which is left at zero.
    *inputs : array or object
        Passed to ``loss_and_grad`` and ``loss``; floating arrays are copied to float64 first.
    loss_and_grad : callable, optional
        Defaults to ``model.loss_and_grad``.
    loss : callable, optional
        The scalar loss differentiated numerically; defaults to the ``L`` that ``loss_and_grad``
        returns. A returned mapping is read at ``'loss'``. Passing ``model.compute_loss`` checks that
        a second code path computes the same loss; a twin written in extended precision resolves
        smaller gradients (see ``zero_atol``).
    loss_kwargs : mapping, optional
        Keyword arguments for both callables (for a VAE: ``dict(eps=noise)``, its fixed noise).
    only : str or tuple of str, optional
        Check only the parameters whose dotted names start with one of these prefixes (the others'
        analytic gradients are still in ``result.analytic``).
    eps : float
        The step ``h``. The default 1e-3 with the five-point stencil suits a loss of order 1 in float64:
        a whole model's gradient has entries 1000x smaller than its largest, which plain central
        differences (round-off ~1e-16 L / h) cannot resolve to 1e-7.
    tol : float
        ``passed`` is ``max_rel_error < tol`` (CS231n's relative error, see :func:`rel_error`).
    stencil : {5, 3}
        Five-point (truncation O(h^4)) or central differences (O(h^2)).
    n_coords : int, optional
        Check this many random coordinates of each tensor (drawn with ``random_state``) instead of all.
    candidates : mapping name -> flat indices, optional
        Where to draw a tensor's coordinates from (e.g. only the inked pixels of an input).
    region : callable, optional
        ``region()`` returns an array describing the piece of a piecewise-smooth loss the latest
        evaluation fell in (e.g. which ReLUs were on). A coordinate whose steps change it straddles a
        kink: it is left out (replaced by another when sampling) and counted in ``result.skipped``; a
        tensor with every coordinate left out fails (relative error ``inf``).
    zero_atol : float, optional
        Where the analytic gradient is exactly 0 (a dead ReLU, an empty pixel), accept a numerical one
        below this instead of the relative error (whose 1e-8 floor makes last-bit rounding ~1e-6 there).
    random_state : seed of the coordinate draw.

    Returns
    -------
    GradcheckResult
        One entry per checked parameter (dotted name) and ``'input'`` (``'input1'``, ... for the others).

    Raises
    ------
    TypeError
        If ``model`` is not a Module or a parameter is not float64.
    ValueError
        If ``loss`` and ``loss_and_grad`` disagree at the unperturbed point, or a gradient's shape is not
        its input's.

    Examples
    --------
    >>> import numpy as np, nnlite
    >>> X = np.random.default_rng(0).uniform(0.05, 0.95, size=(6, 5))
    >>> ae = nnlite.Autoencoder(latent_dim=2, hidden=(4,), activation="tanh", epochs=1,
    ...                         dtype=np.float64, random_state=0).fit(X)
    >>> result = nnlite.check_loss_gradients(ae, X[:3], X[:3], loss=ae.compute_loss)   # input, target
    >>> result.passed, sorted(result.errors)[-1]
    (True, 'input')
    """
    if not isinstance(model, Module):
        raise TypeError(f"check_loss_gradients expects an nnlite Module as its model, got {type(model).__name__}")
    for name, p in model.named_parameters():
        if p.data.dtype != np.float64:
            raise TypeError(f"check_loss_gradients: parameter {name!r} is {p.data.dtype}; central differences "
                            "resolve a gradient to 1e-7 only in float64: call model.double() first")
    kwargs = dict(loss_kwargs or {})
    if loss_and_grad is None:
        if not hasattr(model, "loss_and_grad"):
            raise TypeError(f"check_loss_gradients: {type(model).__name__} has no loss_and_grad method; pass "
                            "loss_and_grad=, a callable that adds dL/dparam into .grad and returns L or (L, dL/dX)")
        loss_and_grad = model.loss_and_grad
    inputs = tuple(np.array(a, dtype=np.float64) if _is_float_array(a) else a for a in inputs)
    restore = _frozen_randomness(model)

    def value():
        restore()
        out = loss(*inputs, **kwargs) if loss is not None else _split(loss_and_grad(*inputs, **kwargs))[0]
        return out["loss"] if isinstance(out, Mapping) else out

    restore()
    model.zero_grad()
    L, input_grads = _split(loss_and_grad(*inputs, **kwargs))
    base = None if region is None else np.asarray(region())
    params = list(model.named_parameters())
    analytic = {name: p.grad.astype(np.float64) for name, p in params}
    model.zero_grad()
    L0 = value()
    if not np.isclose(float(L0), float(L), rtol=1e-10, atol=0):
        raise ValueError(f"check_loss_gradients: loss gives {float(L0)!r} but loss_and_grad gives {float(L)!r} "
                         "at the same point: they must compute the same function")
    if region is not None:
        region()                                       # (the pattern of the evaluation just made)
    prefixes = (only,) if isinstance(only, str) else only
    tensors = [(name, p.data) for name, p in params if prefixes is None or name.startswith(tuple(prefixes))]
    for k, g in enumerate(input_grads):
        if g is not None:
            name = "input" if k == 0 else f"input{k}"
            x = inputs[k]
            if not isinstance(x, np.ndarray) or x.dtype != np.float64:
                raise ValueError(f"check_loss_gradients: loss_and_grad returns a gradient for input {k}, which "
                                 f"is not a floating array (got {type(x).__name__})")
            g = np.asarray(g, dtype=np.float64)
            squeezed = [d for d in g.shape if d != 1] == [d for d in x.shape if d != 1]
            if g.size != x.size or (g.ndim == x.ndim and g.shape != x.shape and not squeezed):
                raise ValueError(f"check_loss_gradients: the gradient of input {k} has shape {g.shape}, the input "
                                 f"{x.shape}; pass the input in the layout its gradient comes back in (e.g. NCHW "
                                 "images)")
            analytic[name] = g.reshape(x.shape)
            tensors.append((name, x))
    result = GradcheckResult(tol=tol)
    result.analytic.update(analytic)
    pick = np.random.default_rng(random_state)
    for name, x in tensors:
        pool = np.arange(x.size) if candidates is None or name not in candidates else np.asarray(candidates[name])
        order = pick.permutation(pool) if n_coords is not None else pool
        want = len(order) if n_coords is None else min(n_coords, len(order))
        numeric = np.full(x.shape, np.nan)
        done, skipped = [], 0
        for flat in order:
            if len(done) == want:
                break
            i = np.unravel_index(int(flat), x.shape)
            d, same = _derivative(value, x, i, eps, stencil=stencil, region=region, base=base)
            if not same:
                skipped += 1
                continue
            numeric[i] = d
            done.append(int(flat))
        model.zero_grad()
        ana = analytic[name].reshape(-1)[done]
        num = numeric.reshape(-1)[done]
        if zero_atol is not None:
            ok = (ana == 0) & (np.abs(num) < zero_atol)
            ana, num, done = ana[~ok], num[~ok], [f for f, o in zip(done, ok) if not o]
        err, at = rel_error(ana, num)
        result.errors[name] = err if done or not skipped else float("inf")   # every coordinate on a kink
        result.where[name] = tuple(int(j) for j in np.unravel_index(done[at[0]], x.shape)) if done else ()
        result.numeric[name] = numeric
        if skipped:
            result.skipped[name] = skipped
    restore()
    return result


def _is_float_array(a):
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _split(out):
    """``(L, (input gradients...))`` of what a ``loss_and_grad`` returns: ``L``, ``(L, g)`` or ``(L, (g, ...))``."""
    if isinstance(out, tuple):
        L, grads = out
        return L, (tuple(grads) if isinstance(grads, (tuple, list)) else (grads,))
    return out, ()
