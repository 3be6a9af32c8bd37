"""Module bookkeeping: registration order, dotted state_dict keys, loading errors, modes, dtype."""
import numpy as np
import pytest

import nnlite


def _mlp(seed=0):
    return nnlite.Sequential(nnlite.Linear(4, 3, random_state=seed), nnlite.ReLU(),
                             nnlite.Linear(3, 2, random_state=seed + 1))


class TwoPart(nnlite.Module):
    def __init__(self):
        super().__init__()
        self.encoder = _mlp(0)
        self.decoder = nnlite.Sequential(nnlite.Linear(2, 4, random_state=5))
        self.register_buffer("counter", np.zeros(3))

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def backward(self, dy):
        return self.encoder.backward(self.decoder.backward(dy))


def test_named_parameters_are_dotted_and_ordered():
    names = [n for n, _ in TwoPart().named_parameters()]
    assert names == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                     "decoder.0.weight", "decoder.0.bias"]
    assert TwoPart().num_parameters() == 4 * 3 + 3 + 3 * 2 + 2 + 2 * 4 + 4


def test_state_dict_round_trip_and_is_a_copy():
    a, b = TwoPart(), TwoPart()
    for p in b.parameters():
        p.data += 1.0
    b.counter[...] = 7
    sd = b.state_dict()
    assert "counter" in sd
    a.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(a(x), b(x))
    np.testing.assert_array_equal(a.counter, 7)
    sd["encoder.0.weight"][...] = 0  # a copy: changing it leaves the model alone
    assert b.encoder[0].weight.data.any()


def test_load_state_dict_names_every_problem():
    model = TwoPart()
    sd = model.state_dict()
    sd.pop("decoder.0.bias")
    sd["extra.weight"] = np.zeros(2)
    sd["encoder.0.weight"] = np.zeros((5, 3))
    with pytest.raises(ValueError) as err:
        model.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys: decoder.0.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "encoder.0.weight: checkpoint has shape (5, 3), model expects (4, 3)" in msg


def test_load_state_dict_non_strict_still_rejects_shapes():
    model = TwoPart()
    sd = {"encoder.0.bias": np.ones(3), "junk": np.zeros(1)}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert "decoder.0.weight" in missing and unexpected == ["junk"]
    np.testing.assert_array_equal(model.encoder[0].bias.data, 1)
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_state_dict({"encoder.0.bias": np.ones(4)}, strict=False)


def test_train_eval_propagates():
    model = nnlite.Sequential(nnlite.Dropout(0.5), _mlp())
    model.eval()
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_double_casts_parameters_and_buffers_in_place():
    model = TwoPart()
    p = model.encoder[0].weight
    model.double()
    assert p is model.encoder[0].weight and p.data.dtype == np.float64 and p.grad.dtype == np.float64
    assert model.counter.dtype == np.float64
    y = model(np.ones((1, 4)))
    assert y.dtype == np.float64


def test_repr_shows_structure():
    text = repr(_mlp())
    assert "(0): Linear(4, 3, bias=True)" in text and "(1): ReLU()" in text


def test_subclass_must_call_super_init():
    class Bad(nnlite.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(RuntimeError, match=r"must call super\(\).__init__\(\)"):
        Bad()
