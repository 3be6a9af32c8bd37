"""Checkpoints: exact round trips, atomic writes, clear errors for damaged files and wrong architectures,
exact resume in the middle of an epoch, and a diverging run that keeps its last good checkpoint."""
import json
import zipfile

import numpy as np
import pytest

import nnlite
from nnlite import losses, optim
from nnlite.callbacks import EarlyStopping, HistoryLogger, ModelCheckpoint
from nnlite.checkpoint import CheckpointError, load_checkpoint, model_config, read_checkpoint, save_checkpoint
from nnlite.models.persistence import build_model


def _data(n=60, d=8, seed=0):
    return np.random.default_rng(seed).random((n, d)).astype(np.float32)


def _mlp(d=8, h=16, seed=1):
    return nnlite.Sequential(nnlite.Linear(d, h, random_state=seed), nnlite.ReLU(),
                             nnlite.Dropout(0.2, random_state=seed + 1), nnlite.Linear(h, d, random_state=seed + 2))


def _setup(callbacks=(), lr=1e-2, epochs=4, step_hook=None):
    """A denoising MLP run using every generator kind: shuffling, Dropout's, and trainer-held input noise."""
    model = _mlp()
    noise = np.random.default_rng(7)
    loss = losses.MSELoss()

    def step(xb, yb):
        noisy = xb + 0.1 * noise.standard_normal(xb.shape).astype(xb.dtype)
        value = loss(model(noisy), yb)
        model.backward(loss.backward())
        return value if step_hook is None else step_hook(value)

    trainer = nnlite.Trainer(model, optim.Adam(model, lr=lr), step=step, batch_size=7, epochs=epochs,
                             random_state=3, generators=[noise], callbacks=list(callbacks), verbose=0)
    return model, trainer


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), f"{k}: max |diff| {np.abs(sa[k] - sb[k]).max()}"


# ------------------------------------------------------------------------------------------ round trip
def test_round_trip_restores_weights_optimizer_trainer_and_every_generator(tmp_path):
    X = _data()
    model, trainer = _setup(epochs=2)
    trainer.fit(X)
    named = np.random.default_rng(11)
    named.random(5)
    path = save_checkpoint(tmp_path / "ck", model, trainer.optimizer, trainer, generators={"extra": named},
                           extra={"note": "hello"})
    assert path.name == "ck.npz" and path.exists()
    sidecar = json.loads((tmp_path / "ck.json").read_text())
    assert sidecar["trainer"]["epoch"] == 2 and sidecar["format"] == "nnlite-checkpoint"

    model2, trainer2 = _setup(epochs=2)
    named2 = np.random.default_rng(999)
    ck = load_checkpoint(path, model2, trainer2.optimizer, trainer2, generators={"extra": named2})
    _assert_same_weights(model, model2)
    assert ck.epoch == trainer2.epoch == 2 and ck.global_step == trainer2.global_step == 18
    assert trainer2.history["loss"] == trainer.history["loss"]
    assert ck.extra == {"note": "hello"}
    # every generator continues the same stream
    pairs = [(trainer.rng, trainer2.rng), (trainer.generators[0], trainer2.generators[0]), (named, named2)]
    pairs += list(zip(model.random_generators(), model2.random_generators()))
    assert len(pairs) == 4
    for g1, g2 in pairs:
        assert np.array_equal(g1.random(4), g2.random(4))
    o1, o2 = trainer.optimizer.state_dict(), trainer2.optimizer.state_dict()
    assert o1["step_count"] == o2["step_count"] == 18 and o1["hyper"] == o2["hyper"]
    for i in o1["state"]:
        for k in o1["state"][i]:
            assert np.array_equal(o1["state"][i][k], o2["state"][i][k])


def test_float64_model_keeps_its_precision(tmp_path):
    model = _mlp().double()
    save_checkpoint(tmp_path / "d.npz", model)
    ck = read_checkpoint(tmp_path / "d.npz")
    assert all(v.dtype == np.float64 for v in ck.model_state.values())


def test_loading_never_uses_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    meta = json.dumps({"format": "nnlite-checkpoint", "version": 1, "model_keys": {"x": [1]}})
    np.savez(path, **{"nnlite.json": np.array(meta), "model/x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match=r"evil\.npz.*truncated or damaged.*holds object values"):
        read_checkpoint(path)


# ------------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("stop_at_step", [5, 10, 18, 27])  # 9 steps per epoch: mid-epoch, first step, last step
def test_resume_mid_epoch_is_bit_identical(tmp_path, stop_at_step):
    X = _data()
    ref_model, ref = _setup()
    ref.fit(X)

    class Crash(Exception):
        pass

    def crash(trainer, step, logs):
        if step == stop_at_step:
            raise Crash

    path = tmp_path / "ck.npz"
    model, trainer = _setup(callbacks=[ModelCheckpoint(path, every_steps=1, every_epochs=None),
                                       nnlite.LambdaCallback(on_batch_end=crash)])
    with pytest.raises(Crash):
        trainer.fit(X)
    ck = read_checkpoint(path)
    # a step checkpoint is taken inside its epoch, even at the last step (the epoch is not closed yet)
    assert ck.global_step == stop_at_step and ck.mid_epoch and ck.epoch == (stop_at_step - 1) // 9

    model2, trainer2 = _setup()
    trainer2.fit(X, resume_from=path)
    _assert_same_weights(ref_model, model2)
    assert trainer2.epoch == 4 and trainer2.global_step == ref.global_step == 36
    assert trainer2.history["loss"] == ref.history["loss"]


def test_resume_counts_epochs_in_total_and_checks_the_data(tmp_path):
    X = _data()
    path = tmp_path / "ck.npz"
    model, trainer = _setup(callbacks=[ModelCheckpoint(path)], epochs=3)
    trainer.fit(X)
    before = model.state_dict()
    model2, trainer2 = _setup(epochs=3)
    trainer2.fit(X, resume_from=path)  # already 3 of 3 epochs: nothing left to do
    assert trainer2.epoch == 3
    for k, v in model2.state_dict().items():
        assert np.array_equal(v, before[k])
    trainer2.fit(X, epochs=5, resume_from=path)
    assert trainer2.epoch == 5 and len(trainer2.history["loss"]) == 5

    mid = tmp_path / "mid.npz"
    _, t3 = _setup(callbacks=[ModelCheckpoint(mid, every_steps=4, every_epochs=None)], epochs=1)
    t3.fit(X)
    _, t4 = _setup()
    with pytest.raises(ValueError, match="middle of an epoch over 60 samples, X has 50"):
        t4.fit(X[:50], resume_from=mid)


# ------------------------------------------------------------------------------------------ atomicity
def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model = _mlp()
    path = save_checkpoint(tmp_path / "ck.npz", model)
    good = path.read_bytes()

    def half_write(f, **arrays):
        f.write(good[: len(good) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", half_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _mlp(seed=50))
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.npz"], "temporary file left behind"


def test_nan_weights_are_never_written(tmp_path):
    model = _mlp()
    path = save_checkpoint(tmp_path / "ck.npz", model)
    good = path.read_bytes()
    model[0].weight.data[0, 0] = np.nan
    with pytest.raises(CheckpointError, match=r"ck\.npz: refusing to save .*NaN or inf \(0\.weight\).*lower learning rate"):
        save_checkpoint(path, model)
    assert path.read_bytes() == good


def test_diverging_run_stops_with_lr_hint_and_keeps_last_good_checkpoint(tmp_path):
    X = _data()
    calls = {"n": 0}

    def hook(value):  # the loss turns NaN in the 3rd epoch (9 steps per epoch)
        calls["n"] += 1
        return float("nan") if calls["n"] == 22 else value

    path = tmp_path / "ck.npz"
    snapshots = {}
    model, trainer = _setup(step_hook=hook, epochs=5, callbacks=[
        ModelCheckpoint(path), nnlite.LambdaCallback(on_epoch_end=lambda tr, ep, logs: snapshots.update(
            {ep: tr.model.state_dict()}))])
    with pytest.raises(nnlite.TrainingDivergedError, match=r"epoch 3.*Try a lower learning rate \(lr is 0.01\)"):
        trainer.fit(X)
    ck = read_checkpoint(path)
    assert ck.epoch == 2
    for k, v in ck.model_state.items():
        assert np.array_equal(v, snapshots[2][k]), k


def test_model_checkpoint_refuses_a_non_finite_save_and_stops_the_run(tmp_path):
    X = _data()
    path = tmp_path / "ck.npz"
    model, trainer = _setup(callbacks=[ModelCheckpoint(path)], epochs=1)
    trainer.fit(X)
    good = path.read_bytes()
    model[0].bias.data[:] = np.inf
    with pytest.raises(nnlite.TrainingDivergedError, match=r"0\.bias became NaN or inf.*last good checkpoint is kept"):
        trainer.callbacks[0].on_epoch_end(trainer, 2, {"loss": 1.0})
    assert path.read_bytes() == good


def test_adam_state_overflow_with_finite_loss_stops_with_the_last_good_checkpoint(tmp_path):
    """Adam's exp_avg_sq overflows to inf while loss and weights stay finite: the run must stop, not train on
    refusing every save (the checkpoint at step 2 and a history that says epoch 30)."""
    X = _data()
    path = tmp_path / "ck.npz"
    calls = {"n": 0}

    def hook(value):
        calls["n"] += 1
        if calls["n"] == 12:  # the 12th step's gradient overflows the second moment (g**2 = inf in float32)
            model[0].weight.grad[0, 0] = 1e30
        return value

    model, trainer = _setup(step_hook=hook, epochs=5, callbacks=[ModelCheckpoint(path, every_steps=1)])
    with pytest.raises(nnlite.TrainingDivergedError, match=r"optimizer state .* became NaN or inf"):
        trainer.fit(X)
    ck = read_checkpoint(path)
    assert ck.global_step == 11  # the last step before the overflow
    assert all(np.isfinite(v).all() for v in ck.model_state.values())


def test_optimizer_overflow_is_caught_at_the_epoch_end_without_checkpoints():
    X = _data()
    calls = {"n": 0}

    def hook(value):
        calls["n"] += 1
        if calls["n"] == 3:
            model[0].weight.grad[0, 0] = 1e30
        return value

    model, trainer = _setup(step_hook=hook, epochs=3)
    with pytest.raises(nnlite.TrainingDivergedError, match=r"optimizer state .* by epoch 1 while the loss stayed finite"):
        trainer.fit(X)


# ------------------------------------------------------------------------------------------ bad files
def test_truncated_file_names_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", _mlp())
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=rf"cut{cut}\.npz: cannot read the checkpoint: the file is truncated"):
            load_checkpoint(bad, _mlp())


def test_corrupted_bytes_inside_an_array_are_detected(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", _mlp())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model/0.weight.npy")
    pos = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200  # inside the array bytes
    data[pos] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"flipped\.npz.*(CRC|damaged)"):
        read_checkpoint(bad)


def test_other_files_get_clear_messages(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothere\.npz: no such checkpoint file"):
        read_checkpoint(tmp_path / "nothere.npz")
    save_checkpoint(tmp_path / "real.npz", _mlp())
    with pytest.raises(CheckpointError, match=r"did you mean .*real\.npz"):
        read_checkpoint(tmp_path / "real")
    with pytest.raises(CheckpointError, match="is a folder"):
        read_checkpoint(tmp_path)
    np.savez(tmp_path / "plain.npz", w=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"plain\.npz: not an nnlite checkpoint.*entries: w"):
        read_checkpoint(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match=r"text\.npz: cannot read"):
        read_checkpoint(tmp_path / "text.npz")


def test_other_architecture_names_the_mismatch_and_changes_nothing(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", _mlp(h=16))
    other = _mlp(h=12)
    before = other.state_dict()
    with pytest.raises(CheckpointError, match=r"ck\.npz: the checkpoint was made for another architecture.*"
                       r"0\.weight: checkpoint \(8, 16\) vs model \(8, 12\)"):
        load_checkpoint(path, other)
    for k, v in other.state_dict().items():
        assert np.array_equal(v, before[k])
    deeper = nnlite.Sequential(nnlite.Linear(8, 16), nnlite.ReLU(), nnlite.Dropout(0.2), nnlite.Linear(16, 8),
                               nnlite.Linear(8, 8))
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint: 4\.weight, 4\.bias"):
        load_checkpoint(path, deeper)


def test_optimizer_and_trainer_mismatches(tmp_path):
    X = _data()
    model, trainer = _setup(epochs=1)
    trainer.fit(X)
    path = save_checkpoint(tmp_path / "ck.npz", model, trainer.optimizer, trainer)
    m2 = _mlp()
    with pytest.raises(CheckpointError, match="optimizer is Adam, this one is SGD"):
        load_checkpoint(path, m2, optim.SGD(m2))
    weights_only = save_checkpoint(tmp_path / "w.npz", model)
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        load_checkpoint(weights_only, m2, optim.Adam(m2))
    _, t3 = _setup()
    with pytest.raises(CheckpointError, match="holds no trainer state"):
        load_checkpoint(weights_only, trainer=t3)
    t4 = nnlite.Trainer(m2, optim.Adam(m2), loss=losses.MSELoss(), verbose=0)
    with pytest.raises(CheckpointError, match="had 1 extra generator.*this trainer has 0"):
        load_checkpoint(path, m2, trainer=t4)
    with pytest.raises(CheckpointError, match="no generator named 'noise'"):
        load_checkpoint(path, generators={"noise": np.random.default_rng()})


# ------------------------------------------------------------------------------------------ config
class _Configurable:
    def __init__(self, latent_dim=2, hidden=(8, 4), random_state=None):
        self.latent_dim, self.hidden, self.random_state = latent_dim, hidden, random_state

    def get_params(self, deep=True):
        return {"latent_dim": self.latent_dim, "hidden": self.hidden, "random_state": self.random_state}


def test_model_config_adapter():
    cfg = model_config(_Configurable(3, random_state=np.random.default_rng()))
    assert cfg["class"].endswith("test_checkpoint._Configurable")
    assert cfg["config"] == {"latent_dim": 3, "hidden": [8, 4]}  # the Generator is not JSON: dropped
    with pytest.raises(CheckpointError, match="not an nnlite class"):
        build_model(cfg)
    with pytest.raises(CheckpointError, match="is not one of nnlite's models"):
        build_model({"class": "nnlite.models.NoSuchModel", "config": {}})
    with pytest.raises(CheckpointError, match=r"'nnlite\.layers\.activations\.ReLU' is not one of nnlite's models"):
        build_model({"class": "nnlite.layers.activations.ReLU", "config": {}})  # layers are not rebuilt from files


# ------------------------------------------------------------------------------------------ callbacks
def test_history_logger_and_early_stopping(tmp_path):
    X = _data()
    model, trainer = _setup(epochs=30, callbacks=[HistoryLogger(tmp_path / "history"),
                                                  EarlyStopping(monitor="loss", patience=0, min_delta=10.0)])
    trainer.fit(X)
    assert trainer.epoch == 2  # never improves by 10: stops after the first epoch that fails to
    hist = json.loads((tmp_path / "history.json").read_text())
    assert hist["loss"] == trainer.history["loss"]
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,loss") and len(rows) == 3 and rows[2].startswith("2,")
    assert float(rows[1].split(",")[1]) == trainer.history["loss"][0]


@pytest.mark.parametrize("kwargs, match", [
    ({"every_epochs": 0}, r"every_epochs must be an int >= 1 or None, got 0"),
    ({"every_steps": -3}, r"every_steps must be an int >= 1 or None, got -3"),
    ({"every_epochs": None}, "nothing to do"),
])
def test_model_checkpoint_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelCheckpoint(tmp_path / "c.npz", **kwargs)


def test_best_checkpoint_and_templated_paths(tmp_path):
    X = _data()
    model, trainer = _setup(epochs=3, callbacks=[
        ModelCheckpoint(tmp_path / "ep{epoch}.npz", best_path=tmp_path / "best.npz", monitor="loss")])
    trainer.fit(X)
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["best.npz", "ep1.npz", "ep2.npz", "ep3.npz"]
    best = read_checkpoint(tmp_path / "best.npz")
    h = trainer.history["loss"]
    assert best.epoch == 1 + int(np.argmin(h))


# ------------------------------------------------------------------------------------------ nnlite.models
def _font():
    from nnlite.data import load_font5x7
    return load_font5x7()[0].reshape(-1, 7, 5)


def _models():
    from nnlite import models
    out = [(models.Autoencoder, {"hidden": (16,), "batch_size": 8}),
           (models.DenoisingAutoencoder, {"hidden": (16,), "noise": "bit_flip", "noise_level": 0.1, "n_copies": 2,
                                          "batch_size": 16}),
           (models.VAE, {"hidden": (16,), "batch_size": 8})]
    if hasattr(models, "GAN"):
        out.append((models.GAN, {"latent_dim": 4, "generator_hidden": (16,), "discriminator_hidden": (16,),
                                 "batch_size": 8}))
    if hasattr(models, "AdversarialDenoiser"):     # two optimizers and a dropout discriminator
        out.append((models.AdversarialDenoiser, {"hidden": (16,), "discriminator_hidden": (16,), "batch_size": 16,
                                                 "adversarial_weight": 0.1}))
    return out


@pytest.mark.parametrize("cls, kw", _models(), ids=lambda v: getattr(v, "__name__", ""))
def test_models_resume_bit_identical_and_restore(tmp_path, cls, kw):
    from nnlite.models.persistence import fit_resumable, restore_model

    X = _font()
    ref = cls(random_state=0, epochs=3, **kw).fit(X)

    class Crash(Exception):
        pass

    def crash(trainer, step, logs):
        if step == 6:
            raise Crash

    path = tmp_path / "ck.npz"
    with pytest.raises(Crash):
        fit_resumable(cls(random_state=0, epochs=3, **kw), X, path, every_steps=1,
                      callbacks=[nnlite.LambdaCallback(on_batch_end=crash)])
    assert read_checkpoint(path).global_step == 6
    model, resumed_from = fit_resumable(cls(random_state=0, epochs=3, **kw), X, path, resume=True)
    assert resumed_from is not None
    _assert_same_weights(ref, model)
    assert model.history_ == ref.history_ or all(
        model.history_[k] == ref.history_[k] for k in ref.history_ if k != "samples_per_s")

    # a finished run resumes to itself without training; restore_model gives a usable fitted model
    again, _ = fit_resumable(cls(random_state=0, epochs=3, **kw), X, path, resume=True)
    _assert_same_weights(ref, again)
    restored = restore_model(path)
    assert type(restored) is cls and restored.input_shape_ == (7, 5)
    if hasattr(ref, "reconstruct"):
        assert np.array_equal(restored.reconstruct(X), ref.reconstruct(X))
    else:
        assert np.array_equal(restored.sample(4, random_state=1), ref.sample(4, random_state=1))


def test_resume_with_other_arguments_is_refused(tmp_path):
    from nnlite.models import Autoencoder
    from nnlite.models.persistence import fit_resumable

    X = _font()
    path = tmp_path / "ck.npz"
    fit_resumable(Autoencoder(hidden=(16,), epochs=1, random_state=0), X, path)
    with pytest.raises(CheckpointError, match=r"cannot resume: hidden: checkpoint \[16\], this run \[8\]; "
                                              r"use the same arguments"):
        fit_resumable(Autoencoder(hidden=(8,), epochs=2, random_state=0), X, path, resume=True)


def test_repr_after_restore_shows_only_changed_arguments(tmp_path):
    from nnlite.models import ConvVAE
    from nnlite.models.persistence import fit_resumable, restore_model

    X = np.random.default_rng(0).random((8, 8, 8)).astype(np.float32)
    fit_resumable(ConvVAE(latent_dim=2, hidden=8, epochs=1, random_state=0), X, tmp_path / "ck.npz")
    restored = restore_model(tmp_path / "ck.npz")
    assert repr(restored) == "ConvVAE(latent_dim=2, hidden=8, epochs=1, random_state=0)"
