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


# ------------------------------------------------------------------------------- a whole model's loss
def _tiny_autoencoder(cls=nnlite.Autoencoder, dtype=np.float64, **kw):
    X = np.random.default_rng(0).uniform(0.05, 0.95, size=(6, 5))
    return cls(latent_dim=2, hidden=(4,), activation="tanh", epochs=1, dtype=dtype, random_state=0, **kw).fit(X), X


def test_check_loss_gradients_checks_every_parameter_and_the_input():
    model, X = _tiny_autoencoder()
    result = nnlite.check_loss_gradients(model, X[:3], X[:3], loss=model.compute_loss)
    assert result.passed, str(result)
    assert set(result.errors) == {n for n, _ in model.named_parameters()} | {"input"}
    assert np.isfinite(result.numeric["input"]).all()          # every coordinate was checked
    assert not any(p.grad.any() for p in model.parameters())   # .grad left at zero


def test_check_loss_gradients_names_the_tensor_of_a_wrong_gradient():
    class ForgetsABias(nnlite.Autoencoder):
        def loss_and_grad(self, X, Y=None):
            out = super().loss_and_grad(X, Y)
            self.decoder_[0].bias.grad[1] *= 1.001              # one entry 0.1% off
            return out

    model, X = _tiny_autoencoder(ForgetsABias)
    result = nnlite.check_loss_gradients(model, X[:3], X[:3])
    assert not result.passed
    assert result.worst == ("decoder_.0.bias", (1,)), str(result)
    assert "decoder_.0.bias" in str(result) and "FAIL" in str(result)


def test_check_loss_gradients_catches_a_wrong_input_gradient():
    model, X = _tiny_autoencoder()

    def half_dx(X, Y):
        loss, dX = model.loss_and_grad(X, Y)
        return loss, dX / 2

    result = nnlite.check_loss_gradients(model, X[:3], X[:3], loss_and_grad=half_dx)
    assert result.worst[0] == "input" and result.errors["input"] > 0.3
    assert all(v < 1e-7 for n, v in result.errors.items() if n != "input")


def test_check_loss_gradients_refuses_a_float32_model_and_a_mismatched_loss():
    model, X = _tiny_autoencoder(dtype=np.float32)
    with pytest.raises(TypeError, match=r"parameter 'encoder_.0.weight' is float32.*model.double\(\)"):
        nnlite.check_loss_gradients(model, X, X)
    model.double()
    with pytest.raises(ValueError, match="loss gives .* but loss_and_grad gives .*same function"):
        nnlite.check_loss_gradients(model, X, X, loss=lambda X, Y: model.compute_loss(X, Y) * 1.01)
    with pytest.raises(TypeError, match="expects an nnlite Module as its model, got function"):
        nnlite.check_loss_gradients(lambda x: x, X)

    def transposed_dx(X, Y):           # a gradient in another layout than its input: refused, not reshaped
        loss, dX = model.loss_and_grad(X, Y)
        return loss, dX.T
    with pytest.raises(ValueError, match=r"gradient of input 0 has shape \(5, 6\), the input \(6, 5\); pass"):
        nnlite.check_loss_gradients(model, X, X, loss_and_grad=transposed_dx)


def test_check_loss_gradients_only_sampling_and_region():
    """A float32 input is copied to float64; ``only`` restricts the parameters, ``n_coords`` the coordinates;
    coordinates whose steps change ``region()`` are skipped and counted."""
    model, X = _tiny_autoencoder()
    result = nnlite.check_loss_gradients(model, X[:3].astype(np.float32), X[:3], only="decoder_", n_coords=4,
                                         random_state=1)
    assert result.passed, str(result)
    assert set(result.errors) == {"decoder_.0.weight", "decoder_.0.bias", "decoder_.1.weight", "decoder_.1.bias",
                                  "input"}
    assert "encoder_.0.weight" in result.analytic                      # computed, not checked
    assert int(np.isfinite(result.numeric["decoder_.1.weight"]).sum()) == 4
    calls = []

    def region():                        # a kink crossed at every other evaluation once the input is reached
        calls.append(1)
        return np.array([len(calls) % 2 if len(calls) > 2 + 5 * 4 else 0])   # after the 5 bias coordinates

    skipping = nnlite.check_loss_gradients(model, X[:3], X[:3], only="decoder_.1.bias", region=region)
    assert skipping.errors["decoder_.1.bias"] < 1e-7 and "decoder_.1.bias" not in skipping.skipped
    assert skipping.skipped["input"] == 15 and np.isnan(skipping.numeric["input"]).all()
    assert skipping.errors["input"] == np.inf and not skipping.passed      # nothing checked is no pass
