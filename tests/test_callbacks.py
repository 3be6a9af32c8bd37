"""nnlite.callbacks.CosineLR: the schedule its docstring states, on an optimizer during a fit, and its
argument checks."""
import math

import numpy as np
import pytest

import nnlite
from nnlite.callbacks import CosineLR


def test_cosine_lr_follows_its_formula_and_holds_the_final_rate():
    s = CosineLR(0.1, total_steps=10, final_fraction=0.01)
    assert s.lr_at(0) == pytest.approx(0.1, rel=1e-15)
    assert s.lr_at(5) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5), rel=1e-15)            # cos(pi/2) = 0
    assert s.lr_at(10) == pytest.approx(0.1 * 0.01, rel=1e-15)
    assert s.lr_at(25) == s.lr_at(10)                                                     # held after T
    rates = [s.lr_at(t) for t in range(11)]
    assert all(a > b for a, b in zip(rates, rates[1:]))                                   # strictly decreasing
    assert s.lr_at(3) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.3))), rel=1e-15)


def test_cosine_lr_sets_the_optimizer_rate_after_every_step():
    X = np.random.default_rng(0).random((32, 6)).astype(np.float32)
    net = nnlite.Sequential(nnlite.Linear(6, 6, random_state=0))
    opt = nnlite.optim.SGD(net.parameters(), lr=0.5)
    seen = []

    class Record(nnlite.callbacks.Callback):
        def on_batch_end(self, trainer, step, logs):
            seen.append(trainer.optimizer.lr)

    schedule = CosineLR(0.5, total_steps=4, final_fraction=0.1)
    trainer = nnlite.Trainer(net, opt, loss=nnlite.losses.MSELoss(), batch_size=16, epochs=2, random_state=0,
                             callbacks=[schedule, Record()], verbose=0)
    trainer.fit(X, X)
    np.testing.assert_allclose(seen, [schedule.lr_at(t) for t in (1, 2, 3, 4)], rtol=1e-15)
    assert opt.lr == pytest.approx(0.05, rel=1e-15)                                        # lr * f at the end


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=0.0, total_steps=10), "CosineLR: lr must be a finite number > 0, got 0.0"),
    (dict(lr=0.1, total_steps=0), "CosineLR: total_steps must be an int >= 1, got 0"),
    (dict(lr=0.1, total_steps=2.5), "CosineLR: total_steps must be an int >= 1, got 2.5"),
    (dict(lr=0.1, total_steps=10, final_fraction=1.5), r"CosineLR: final_fraction must be in \(0, 1\], got 1.5"),
    (dict(lr=0.1, total_steps=10, final_fraction=0.0), "CosineLR: final_fraction must be a finite number > 0"),
])
def test_cosine_lr_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CosineLR(**kwargs)
