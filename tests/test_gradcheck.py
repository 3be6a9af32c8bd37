"""The public gradcheck: plain functions, custom modules, frozen randomness, reporting."""
import numpy as np
import pytest

import nnlite


def test_check_gradient_on_a_plain_function(rng):
    def f(x):
        return float(np.sum(np.sin(x) * x))

    def grad(x):
        return np.cos(x) * x + np.sin(x)

    result = nnlite.check_gradient(f, grad, rng.standard_normal((3, 4)))
    assert result.passed and result.max_rel_error < 1e-8
    wrong = nnlite.check_gradient(f, lambda x: np.cos(x) * x, rng.standard_normal((3, 4)))
    assert not wrong.passed


def test_user_layer_with_a_parameter(rng):
    """A user-written layer, y = x * scale (elementwise, learnable scale), checked as the README shows."""

    class Scale(nnlite.Module):
        def __init__(self, n):
            super().__init__()
            self.scale = nnlite.Parameter(np.linspace(0.5, 1.5, n))

        def forward(self, x):
            self._x = x
            return x * self.scale.data

        def backward(self, dy):
            self.scale.grad += (dy * self._x).sum(axis=0)
            return dy * self.scale.data

    result = nnlite.gradcheck(Scale(4), rng.standard_normal((5, 4)))
    assert result.passed and set(result.errors) == {"input", "scale"}
    text = str(result)
    assert "PASSED" in text and "scale" in text


def test_wrong_parameter_gradient_is_reported_by_name(rng):
    class ForgetsBias(nnlite.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.bias.grad[...] = 0
            return dx

    result = nnlite.gradcheck(ForgetsBias(3, 2, random_state=0), rng.standard_normal((4, 3)))
    assert not result.passed and result.worst[0] == "bias"
    assert result.errors["weight"] < 1e-7 and result.errors["input"] < 1e-7


def test_gradcheck_leaves_the_users_module_alone(rng):
    layer = nnlite.Linear(3, 2, random_state=0)
    before = layer.weight.data.copy()
    nnlite.gradcheck(layer, rng.standard_normal((2, 3)))
    assert layer.weight.dtype == np.float32 and np.array_equal(layer.weight.data, before)
    assert not layer.weight.grad.any()


def test_gradcheck_rejects_other_objects():
    with pytest.raises(TypeError, match="expects an nnlite Module or Loss"):
        nnlite.gradcheck(lambda x: x, np.ones(3))


def test_a_non_contiguous_input_is_perturbed_in_place():
    """A transposed view used to be copied by reshape(-1): the numerical gradient came out all zeros."""
    from nnlite.gradcheck import numerical_gradient

    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1)   # not C-contiguous
    assert not x.flags.c_contiguous
    g = numerical_gradient(lambda: float(np.sum(x ** 2)), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6, atol=1e-6)
