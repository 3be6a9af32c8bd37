"""Each optimizer's step against its update rule written out by hand, for two steps; argument checks;
state_dict round trips; the fused Numba Adam kernel against its NumPy twin in float32 and float64."""
import numpy as np
import pytest

import nnlite
from nnlite import optim
from nnlite.ops._kernels.optim import _adam_parallel, _adam_serial


def _param(rng, shape=(3, 4), dtype=np.float64):
    p = nnlite.Parameter(rng.standard_normal(shape).astype(dtype))
    return p


def _two_steps(opt_cls, rng, **kw):
    p = _param(rng)
    p0 = p.data.copy()
    g1, g2 = rng.standard_normal(p.shape), rng.standard_normal(p.shape)
    opt = opt_cls([p], **kw)
    p.grad[...] = g1
    opt.step()
    p.grad[...] = g2
    opt.step()
    return p0, g1, g2, p.data


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_two_steps(nesterov, rng):
    lr, mu, wd = 0.1, 0.9, 0.01
    p0, g1, g2, p2 = _two_steps(optim.SGD, rng, lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
    d1 = g1 + wd * p0
    b1 = d1
    p1 = p0 - lr * (d1 + mu * b1 if nesterov else b1)
    d2 = g2 + wd * p1
    b2 = mu * b1 + d2
    expect = p1 - lr * (d2 + mu * b2 if nesterov else b2)
    np.testing.assert_allclose(p2, expect, rtol=1e-12)


def test_plain_sgd_two_steps(rng):
    p0, g1, g2, p2 = _two_steps(optim.SGD, rng, lr=0.05)
    np.testing.assert_allclose(p2, p0 - 0.05 * g1 - 0.05 * g2, rtol=1e-12)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw_two_steps(decoupled, rng):
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.95, 1e-6, 0.1
    cls = optim.AdamW if decoupled else optim.Adam
    p0, g1, g2, p2 = _two_steps(cls, rng, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    p, m, v = p0.copy(), 0.0, 0.0
    for t, g in ((1, g1), (2, g2)):
        if decoupled:
            p = p - lr * wd * p
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
    np.testing.assert_allclose(p2, p, rtol=1e-10)


@pytest.mark.parametrize("centered, momentum", [(False, 0.0), (True, 0.0), (False, 0.5), (True, 0.5)])
def test_rmsprop_two_steps(centered, momentum, rng):
    lr, alpha, eps, wd = 0.01, 0.9, 1e-8, 0.05
    p0, g1, g2, p2 = _two_steps(optim.RMSprop, rng, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                                momentum=momentum, centered=centered)
    p, s, ga, b = p0.copy(), 0.0, 0.0, 0.0
    for g in (g1, g2):
        g = g + wd * p
        s = alpha * s + (1 - alpha) * g * g
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            d = np.sqrt(s - ga * ga) + eps
        else:
            d = np.sqrt(s) + eps
        if momentum:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
    np.testing.assert_allclose(p2, p, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", [_adam_serial, _adam_parallel], ids=["serial", "parallel"])
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_adam_kernel_matches_numpy_twin(kernel, dtype, n, rng):
    p, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    m, v = rng.standard_normal(n).astype(dtype), rng.uniform(0, 1, n).astype(dtype)
    args = (0.01, 0.9, 0.999, 1e-8, 1 - 0.9**3, 1 - 0.999**3, 0.0, False)
    # the NumPy twin, computed in float64 then stored at the arrays' precision
    m_ref = 0.9 * m.astype(np.float64) + 0.1 * g
    v_ref = 0.999 * v.astype(np.float64) + 0.001 * g.astype(np.float64) ** 2
    p_ref = p - (0.01 / args[4]) * m_ref / (np.sqrt(v_ref) / np.sqrt(args[5]) + 1e-8)
    kernel(p, g, m, v, *args)
    rtol = 3e-6 if dtype == np.float32 else 1e-13  # float32: a few roundings of ~6e-8 each
    np.testing.assert_allclose(m, m_ref, rtol=rtol)
    np.testing.assert_allclose(v, v_ref, rtol=rtol)
    np.testing.assert_allclose(p, p_ref, rtol=rtol, atol=1e-6 if dtype == np.float32 else 0)


@pytest.mark.parametrize("cls, kw, match", [
    (optim.SGD, dict(lr=-0.1), "SGD: lr must be a finite number > 0, got -0.1"),
    (optim.SGD, dict(nesterov=True), "nesterov momentum requires momentum > 0"),
    (optim.Adam, dict(betas=(0.9, 1.0)), r"Adam: beta parameter at index 1 must be a number in \[0, 1\), got 1.0"),
    (optim.Adam, dict(betas=0.9), r"Adam: betas must be a pair \(beta1, beta2\) of numbers in \[0, 1\), got 0.9"),
    (optim.Adam, dict(eps=float("nan")), "eps must be a finite number > 0, got nan"),
    (optim.RMSprop, dict(alpha=1.5), r"alpha must be a number in \[0, 1\), got 1.5"),
    (optim.AdamW, dict(weight_decay=-1), "AdamW: weight_decay must be a finite number >= 0, got -1"),
])
def test_constructors_reject_invalid_values(cls, kw, match, rng):
    with pytest.raises(ValueError, match=match):
        cls([_param(rng)], **kw)


_ALL = [optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW]
_EPS = [optim.RMSprop, optim.Adam, optim.AdamW]
_BAD_HYPER = (
    # a zero eps divides by zero on the first zero-gradient step
    [(cls, "eps", 0.0, "eps") for cls in _EPS]
    + [(cls, "eps", -1e-8, "eps") for cls in _EPS]
    + [(cls, "eps", True, "eps") for cls in _EPS]
    # a bool is not a learning rate, and lr = 0 is refused as the models refuse it
    + [(cls, "lr", value, "lr") for cls in _ALL for value in (True, False, np.True_, 0, 0.0, "0.1", None)]
    + [(cls, "weight_decay", True, "weight_decay") for cls in _ALL]
    + [(optim.SGD, "momentum", True, "momentum"), (optim.SGD, "dampening", "0", "dampening"),
       (optim.SGD, "nesterov", "yes", "nesterov"), (optim.RMSprop, "centered", 1, "centered"),
       (optim.RMSprop, "momentum", True, "momentum")]
    + [(optim.RMSprop, "alpha", value, "alpha") for value in ("3", None, True, [0.9])]
    + [(cls, "betas", value, "betas") for cls in (optim.Adam, optim.AdamW)
       for value in (0, 0.9, None, "ab", (0.9,), (0.9, 0.99, 0.999))]
    + [(cls, "betas", value, "beta parameter at index 0") for cls in (optim.Adam, optim.AdamW)
       for value in (("0.9", 0.99), (True, 0.99), (None, 0.99), (-0.1, 0.99))]
    + [(optim.Adam, "betas", (0.9, "x"), "beta parameter at index 1")]
)


@pytest.mark.parametrize("cls, arg, value, named", _BAD_HYPER,
                         ids=[f"{c.__name__}-{a}-{v!r}" for c, a, v, _ in _BAD_HYPER])
def test_bad_hyper_parameter_is_a_value_error_naming_it(cls, arg, value, named, rng):
    with pytest.raises(ValueError) as info:
        cls([_param(rng)], **{arg: value})
    message = str(info.value)
    shown = value[int(named[-1])] if named.startswith("beta parameter") else value  # the bad element
    assert message.startswith(f"{cls.__name__}: {named} must be "), message
    assert message.endswith(f"got {shown!r}"), message


@pytest.mark.parametrize("cls", _ALL)
@pytest.mark.parametrize("value", [True, 0, 0.0, -0.1, float("inf"), "0.1"])
def test_lr_setter_refuses_what_the_constructor_refuses(cls, value, rng):
    opt = cls([_param(rng)], lr=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: lr must be a finite number > 0, got {value!r}"):
        opt.lr = value
    assert opt.lr == 0.1


@pytest.mark.parametrize("cls", _EPS)
def test_smallest_accepted_eps_keeps_weights_finite_on_a_zero_gradient(cls, rng):
    p = _param(rng)
    opt = cls([p], lr=0.1, eps=np.finfo(np.float64).tiny)
    p.grad[...] = 0.0
    opt.step()
    assert np.isfinite(p.data).all()


def test_optimizer_rejects_non_parameters_and_empty():
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])


@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW])
def test_state_dict_round_trip_continues_identically(cls, rng):
    kw = dict(lr=0.01, momentum=0.9) if cls in (optim.SGD, optim.RMSprop) else dict(lr=0.01)
    grads = [rng.standard_normal((3, 4)) for _ in range(4)]
    a = _param(np.random.default_rng(0))
    b = _param(np.random.default_rng(0))
    opt_a = cls([a], **kw)
    for g in grads[:2]:
        a.grad[...] = g
        opt_a.step()
    # b: restore weights and optimizer state from a after two steps
    b.data[...] = a.data
    opt_b = cls([b], **kw)
    opt_b.load_state_dict(opt_a.state_dict())
    for g in grads[2:]:
        a.grad[...] = g
        opt_a.step()
        b.grad[...] = g
        opt_b.step()
    assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("cls, arg, value, named", _BAD_HYPER,
                         ids=[f"{c.__name__}-{a}-{v!r}" for c, a, v, _ in _BAD_HYPER])
def test_load_state_dict_refuses_what_the_constructor_refuses(cls, arg, value, named, rng):
    """A state dict's hyper-parameters go through the constructor's checks; a refused one changes nothing."""
    opt = cls([_param(rng)], lr=0.1)
    opt.params[0].grad[...] = 1.0
    opt.step()
    before = opt.state_dict()
    bad = opt.state_dict()
    bad["hyper"][arg] = value
    bad["step_count"] = 7
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(bad)
    message = str(info.value)
    shown = value[int(named[-1])] if named.startswith("beta parameter") else value
    assert message.startswith(f"{cls.__name__}.load_state_dict: {named} must be "), message
    assert message.endswith(f"got {shown!r}"), message
    assert opt.hyper == before["hyper"] and opt.step_count == before["step_count"] == 1


@pytest.mark.parametrize("sd_change, match", [
    (dict(hyper={"lr": 0.1, "momentum": 0.0, "nesterov": True}),
     r"SGD.load_state_dict: nesterov momentum requires momentum > 0 and dampening = 0, got momentum=0.0"),
    (dict(hyper={"lr": 0.1, "betas": (0.9, 0.999)}), r"SGD.load_state_dict: unknown hyper-parameter\(s\) \['betas'\]"),
    (dict(hyper=[("lr", 0.1)]), r"SGD.load_state_dict: 'hyper' must be a dict of hyper-parameters, got a list"),
    (dict(step_count=-1), r"SGD.load_state_dict: invalid step_count -1: expected an int >= 0"),
    (dict(step_count=True), r"SGD.load_state_dict: invalid step_count True: expected an int >= 0"),
    (dict(step_count=2.5), r"SGD.load_state_dict: invalid step_count 2.5: expected an int >= 0"),
])
def test_load_state_dict_checks_the_combination_the_names_and_the_step_count(sd_change, match, rng):
    opt = optim.SGD([_param(rng)], lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict({**opt.state_dict(), **sd_change})
    assert opt.hyper == {"lr": 0.5, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}


def test_load_state_dict_keeps_missing_keys_and_normalises_what_a_checkpoint_gives_back(rng):
    opt = optim.Adam([_param(rng)], lr=0.1, eps=1e-6)
    state = opt.state_dict()
    state["hyper"] = {"lr": np.float64(0.01), "betas": [0.5, 0.9]}      # as a JSON round trip gives it back
    opt.load_state_dict(state)
    assert opt.hyper == {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.0}
    assert type(opt.hyper["lr"]) is float and type(opt.hyper["betas"]) is tuple


def test_module_as_params_and_lr_property():
    net = nnlite.Sequential(nnlite.Linear(2, 3), nnlite.Linear(3, 1))
    opt = optim.Adam(net, lr=0.1)
    assert len(opt.params) == 4 and opt.lr == 0.1
    opt.lr = 0.01
    assert opt.hyper["lr"] == 0.01
    with pytest.raises(ValueError):
        opt.lr = -1
