"""Every core layer passes a float64 gradient check w.r.t. its input and every parameter.

Inputs of the piecewise-linear activations (ReLU, LeakyReLU, ELU at 0) are kept at least 0.05 away
from the kink: central differences with h = 1e-6 never straddle it there, so the check is exact.
"""
import numpy as np
import pytest
from conftest import away_from_zero

import nnlite

SHAPES = [(1, 3), (4, 5), (7, 2)]  # batch size 1 included

LAYER_FACTORIES = {
    "Linear": lambda n: nnlite.Linear(n, 3, random_state=0),
    "Linear-nobias": lambda n: nnlite.Linear(n, 4, bias=False, random_state=1),
    "Linear-xavier": lambda n: nnlite.Linear(n, 2, init="xavier_uniform", random_state=2),
    "ReLU": lambda n: nnlite.ReLU(),
    "LeakyReLU": lambda n: nnlite.LeakyReLU(0.2),
    "ELU": lambda n: nnlite.ELU(1.3),
    "Sigmoid": lambda n: nnlite.Sigmoid(),
    "Tanh": lambda n: nnlite.Tanh(),
    "Softplus": lambda n: nnlite.Softplus(),
    "Softmax": lambda n: nnlite.Softmax(),
    "Identity": lambda n: nnlite.Identity(),
    "Dropout-train": lambda n: nnlite.Dropout(0.3, random_state=0),
    "Sequential-MLP": lambda n: nnlite.Sequential(nnlite.Linear(n, 6, random_state=3), nnlite.ELU(),
                                                  nnlite.Linear(6, 4, random_state=4), nnlite.Sigmoid()),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(LAYER_FACTORIES))
def test_gradcheck_every_layer(name, shape, rng):
    layer = LAYER_FACTORIES[name](shape[1])
    x = away_from_zero(rng, shape)  # |x| of a few units: no saturated tanh/sigmoid (see gradcheck's docstring)
    result = nnlite.gradcheck(layer, x)
    assert result.passed, f"{name} on {shape}:\n{result}"
    expected = {"input"} | {n for n, _ in layer.named_parameters()}
    assert set(result.errors) == expected


def test_gradcheck_reshape_and_flatten(rng):
    x = rng.standard_normal((3, 2, 3, 4))
    for layer in (nnlite.Flatten(), nnlite.Sequential(nnlite.Flatten(), nnlite.Reshape((4, 6)))):
        result = nnlite.gradcheck(layer, x)
        assert result.passed, str(result)
    assert nnlite.Reshape((4, 6))(x).shape == (3, 4, 6)


def test_gradcheck_catches_a_wrong_backward(rng):
    """The checker must fail on a backward that is wrong only in the input gradient."""

    class WrongTanh(nnlite.Tanh):
        def backward(self, dy):
            return dy * (1 - self._y)  # should be 1 - y**2

    result = nnlite.gradcheck(WrongTanh(), rng.standard_normal((3, 4)))
    assert not result.passed and result.worst[0] == "input"


def test_extreme_inputs_stay_finite():
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    for layer in (nnlite.Sigmoid(), nnlite.Tanh(), nnlite.Softplus(), nnlite.Softmax(), nnlite.ELU()):
        y = layer(x)
        dx = layer.backward(np.ones_like(y))
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)), type(layer).__name__
    np.testing.assert_allclose(nnlite.Sigmoid()(x), [[0.0, 1.9287498e-22, 0.5, 1.0, 1.0]], rtol=1e-6, atol=0)
    np.testing.assert_allclose(nnlite.Softplus()(x)[0, -1], 1000.0)


def test_activation_values_match_definitions(rng):
    x = rng.standard_normal((4, 6))
    np.testing.assert_allclose(nnlite.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_allclose(nnlite.LeakyReLU(0.1)(x), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nnlite.ELU(2.0)(x), np.where(x > 0, x, 2.0 * (np.exp(x) - 1)))
    np.testing.assert_allclose(nnlite.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nnlite.Softplus()(x), np.log1p(np.exp(x)))
    s = nnlite.Softmax()(x)
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(s, np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))


def test_linear_layout_and_default_dtype(rng):
    layer = nnlite.Linear(5, 3, random_state=0)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32
    x = rng.standard_normal((2, 5)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x @ layer.weight.data + layer.bias.data, rtol=1e-6)
    bound = 1 / np.sqrt(5)
    assert np.abs(layer.weight.data).max() <= bound


def test_float64_end_to_end(rng):
    net = nnlite.Sequential(nnlite.Linear(4, 3, dtype=np.float64, random_state=0), nnlite.ReLU())
    y = net(rng.standard_normal((2, 4)))
    assert y.dtype == np.float64 and net[0].weight.grad.dtype == np.float64


def test_backward_accumulates_into_grad(rng):
    layer = nnlite.Linear(3, 2, random_state=0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    dy = np.ones((4, 2), np.float32)
    layer(x)
    layer.backward(dy)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-6)
    layer.zero_grad()
    assert not layer.weight.grad.any()


@pytest.mark.parametrize("make", [lambda: nnlite.Linear(3, 2, random_state=0),
                                  lambda: nnlite.Dense(3, 2, "relu", random_state=0)],
                         ids=["Linear", "Dense"])
def test_lazy_zero_grad_overwrites_then_accumulates(make, rng):
    """zero_grad only marks the gradient cleared; the next backward writes it (old values, even NaN,
    must not survive), the one after adds to it, and reading grad in between sees zeros."""
    layer = make()
    x = rng.standard_normal((4, 3)).astype(np.float32)
    dy = rng.standard_normal((4, 2)).astype(np.float32)
    layer(x)
    layer.backward(dy)
    once = layer.weight.grad.copy()
    assert once.any()
    layer.weight._grad[...] = np.nan                     # garbage under a cleared gradient
    layer.zero_grad()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, once, rtol=1e-6)   # written, not added to NaN
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-6)
    layer.weight._grad[...] = 7.0
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()  # a read fills the zeros


def test_parameter_grad_to_write_reports_a_cleared_gradient():
    p = nnlite.Parameter(np.ones(3, np.float32))
    g, overwrite = p.grad_to_write()
    assert g is p.grad and not overwrite
    p.zero_grad()
    g, overwrite = p.grad_to_write()
    assert overwrite and g is p._grad
    assert not p.grad_to_write()[1]                      # counts as written afterwards
    p.zero_grad()
    p.grad = np.full(3, 2.0, np.float32)                 # assigning replaces the cleared gradient
    assert np.all(p.grad == 2.0)


def test_dropout_modes_and_rate():
    d = nnlite.Dropout(0.25, random_state=0)
    x = np.ones((200, 500), np.float32)
    y = d(x)
    frac_zero = float((y == 0).mean())
    assert abs(frac_zero - 0.25) < 0.01  # binomial sd is 0.001
    np.testing.assert_allclose(y.mean(), 1.0, atol=0.01)  # inverted dropout keeps the mean
    d.eval()
    assert d(x) is x


def test_seeded_init_is_reproducible():
    a = nnlite.Linear(10, 7, random_state=42)
    b = nnlite.Linear(10, 7, random_state=42)
    c = nnlite.Linear(10, 7, random_state=43)
    assert np.array_equal(a.weight.data, b.weight.data) and np.array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


@pytest.mark.parametrize(
    "layer, x, match",
    [
        (nnlite.Linear(4, 2), np.zeros((3, 5)),
         r"Linear\(4, 2, bias=True\) expects 4 features on axis -1, got input of shape \(3, 5\)"),
        (nnlite.Linear(4, 2), np.zeros(4),
         r"Linear\(4, 2, bias=True\) expects a 2-D or 3-D or 4-D input, got shape \(4,\)"),
        (nnlite.Flatten(), np.zeros(4), r"Flatten\(\) expects .* got shape \(4,\)"),
        (nnlite.Reshape((3, 3)), np.zeros((2, 8)),
         r"Reshape\(\(3, 3\)\) expects 9 values per sample, got input of shape \(2, 8\)"),
    ],
)
def test_shape_errors_name_layer_expected_and_actual(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


def test_non_array_input_is_a_type_error():
    with pytest.raises(TypeError, match="Linear.*expects a numpy array, got dict"):
        nnlite.Linear(2, 2)({"a": 1})


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_linear_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="n_in must be an int >= 1"):
        nnlite.Linear(bad, 3)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: .*relu"):
        nnlite.layers.get_activation("swishy")


def test_get_activation_reads_specs_with_a_parameter():
    """The conv models build their activations from the same specs as Dense: 'leaky_relu:0.2', 'elu:0.5'."""
    leaky, elu = nnlite.layers.get_activation("leaky_relu:0.2"), nnlite.layers.get_activation("ELU:0.5")
    assert isinstance(leaky, nnlite.LeakyReLU) and leaky.negative_slope == 0.2
    assert isinstance(elu, nnlite.ELU) and elu.alpha == 0.5
    assert type(nnlite.layers.get_activation("leaky_relu")) is nnlite.LeakyReLU
    with pytest.raises(ValueError, match="only elu and leaky_relu take one"):
        nnlite.layers.get_activation("relu:0.2")
