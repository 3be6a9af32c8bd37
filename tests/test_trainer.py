"""The training loop: it learns, it is reproducible bit for bit, it stops cleanly on NaN."""

import numpy as np
import pytest

import nnlite
from nnlite import losses, optim


def _spirals(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.25, 1, n)
    label = rng.integers(0, 2, n)
    angle = 2 * np.pi * t + np.pi * label  # two interleaved spiral arms, one turn each
    X = np.c_[t * np.cos(angle), t * np.sin(angle)] + rng.normal(0, 0.02, (n, 2))
    return X.astype(np.float32), label


def _classifier(seed):
    return nnlite.Sequential(nnlite.Linear(2, 32, random_state=seed), nnlite.Tanh(),
                             nnlite.Linear(32, 32, random_state=seed + 1), nnlite.Tanh(),
                             nnlite.Linear(32, 2, random_state=seed + 2))


def _train(seed, epochs=30):
    X, y = _spirals()
    model = _classifier(seed)
    trainer = nnlite.Trainer(model, optim.Adam(model, lr=0.02), loss=losses.CrossEntropyLoss(),
                             batch_size=16, epochs=epochs, random_state=seed, verbose=0)
    trainer.fit(X, y, validation_data=(X[:40], y[:40]))
    return model, trainer


def test_training_reduces_loss_and_classifies():
    X, y = _spirals()
    model, trainer = _train(0, epochs=60)
    h = trainer.history
    assert len(h["loss"]) == 60 and len(h["val_loss"]) == 60 and "samples_per_s" in h
    assert h["loss"][-1] < 0.25 * h["loss"][0]
    acc = (model(X).argmax(axis=1) == y).mean()
    assert acc > 0.9


def test_seeded_runs_are_bit_identical():
    m1, t1 = _train(3, epochs=5)
    m2, t2 = _train(3, epochs=5)
    assert t1.history["loss"] == t2.history["loss"]
    for (n, a), (_, b) in zip(m1.named_parameters(), m2.named_parameters()):
        assert np.array_equal(a.data, b.data), n


def test_nan_loss_stops_with_clear_message_and_last_good_weights():
    X, y = _spirals()
    model = _classifier(0)
    calls = {"n": 0}

    def step(xb, yb):
        calls["n"] += 1
        pred = model(xb)
        loss = losses.CrossEntropyLoss()
        value = loss(pred, yb)
        model.backward(loss.backward())
        return {"loss": value if calls["n"] < 12 else float("nan")}  # breaks in epoch 2 (8 steps/epoch)

    trainer = nnlite.Trainer(model, optim.SGD(model, lr=0.1), step=step, batch_size=16, epochs=5,
                             random_state=0, verbose=0)
    snapshot = {}
    trainer.callbacks.append(nnlite.LambdaCallback(
        on_epoch_end=lambda tr, ep, logs: snapshot.update(model.state_dict())))
    with pytest.raises(nnlite.TrainingDivergedError, match=r"loss = nan at epoch 2, step 4 of 8 .* end of epoch 1\. Try a lower learning rate \(lr is 0.1\)"):
        trainer.fit(X, y)
    for k, v in model.state_dict().items():
        assert np.array_equal(v, snapshot[k]), k


def test_nan_in_the_data_is_refused_before_training():
    X, y = _spirals()
    X[5, 1] = np.nan
    model = _classifier(0)
    with pytest.raises(ValueError, match=r"fit: X contains NaN or inf \(1 values\), first at index \(5, 1\)"):
        nnlite.fit(model, X, y, loss="cross_entropy", verbose=0)
    with pytest.raises(ValueError, match="Y has 3 samples, expected 120"):
        nnlite.fit(model, _spirals()[0], y[:3], loss="cross_entropy", verbose=0)


def test_progress_line_and_callbacks(capsys):
    X, y = _spirals(40)
    model = _classifier(0)
    seen = []
    trainer = nnlite.Trainer(model, optim.Adam(model), loss=losses.CrossEntropyLoss(), batch_size=10, epochs=2,
                             random_state=0,
                             callbacks=[nnlite.LambdaCallback(on_batch_end=lambda tr, s, logs: seen.append(s))])
    trainer.fit(X, y)                                   # verbose=1 by default: progress on stderr
    assert seen == list(range(1, 9))
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert cap.out == "" and "\r" not in cap.err       # not a terminal: whole lines, no redraws
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2"), lines
    assert "samples/s" in lines[1] and "loss" in lines[1]


def test_early_stop_from_a_callback_and_autoencoder_targets():
    X = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    model = nnlite.Sequential(nnlite.Linear(4, 2, random_state=0), nnlite.Linear(2, 4, random_state=1))
    stopper = nnlite.LambdaCallback(on_epoch_end=lambda tr, ep, logs: setattr(tr, "stop_training", ep == 3))
    trainer = nnlite.Trainer(model, optim.Adam(model), loss=losses.MSELoss(), epochs=10, verbose=0,
                             callbacks=[stopper])
    trainer.fit(X)  # Y defaults to X
    assert len(trainer.history["loss"]) == 3 and trainer.epoch == 3
