"""nnlite.summary: one row per layer, output shapes from a forward pass, totals; and it changes nothing."""
import numpy as np
import pytest

import nnlite
from nnlite.models import VAE, ResidualDenoiser
from nnlite.summary import summary


def test_rows_shapes_and_totals_of_a_sequential():
    net = nnlite.Sequential(nnlite.Linear(784, 64), nnlite.ReLU(), nnlite.Linear(64, 10))
    lines = str(summary(net, input_shape=(784,))).splitlines()
    assert lines[2].split() == ["0", "Linear", "(None,", "64)", "50,240"]
    assert lines[4].split() == ["2", "Linear", "(None,", "10)", "650"]
    assert lines[-1] == "total: 50,890 parameters, 198.8 KiB as float32"
    assert repr(summary(net)) == str(summary(net))          # shows as the table in a REPL
    assert "(None" not in str(summary(net))                 # no input shape: parameters only


def test_a_fitted_model_uses_its_input_shape_and_draws_no_random_numbers():
    X = np.random.default_rng(0).random((16, 6, 6)).astype(np.float32)
    vae = VAE(latent_dim=2, hidden=(12,), epochs=1, random_state=0).fit(X)
    states = [g.bit_generator.state for m in vae.modules() for g in vars(m).values()
              if isinstance(g, np.random.Generator)]
    table = str(summary(vae))
    assert "decoder_.1" in table and "(None, 36)" in table
    assert states == [g.bit_generator.state for m in vae.modules() for g in vars(m).values()
                      if isinstance(g, np.random.Generator)]
    unet = ResidualDenoiser(width=4, depth=2, epochs=1, random_state=0).fit(X)
    table = str(summary(unet))
    assert "MaxPool2d" in table and "(None, 4, 3, 3)" in table
    assert table.splitlines()[-1].startswith(f"total: {sum(p.size for p in unet.parameters()):,} parameters")


def test_summary_refuses_what_is_not_a_module():
    with pytest.raises(TypeError, match="expected an nnlite Module, got list"):
        summary([1, 2])
