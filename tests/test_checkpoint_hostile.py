"""Hostile checkpoints: opening one never runs code, never takes much memory, and fails with a
CheckpointError that leaves everything as it was.

Every file here is crafted in ``tmp_path`` from a genuine checkpoint of a small model, changed the way
an attacker would change it. The tests assert the exact outcome: the error class and message, no
marker file created, the model untouched, and (in a subprocess) the peak memory.
"""
from __future__ import annotations

import functools
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import nnlite
from nnlite import optim
from nnlite.atomic import RunFolderBusyError, RunLock, atomic_write_text, remove_stale_temporaries
from nnlite.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from nnlite.models import Autoencoder
from nnlite.models.persistence import restore_model

PEAK_MEMORY_LIMIT_MB = 512


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    """A real checkpoint of a fitted Autoencoder (36 -> 8 -> 2), with optimizer and trainer state."""
    from nnlite.models.persistence import fit_resumable

    X = np.random.default_rng(0).random((32, 36)).astype(np.float32)
    path = tmp_path_factory.mktemp("genuine") / "ck.npz"
    fit_resumable(Autoencoder(hidden=(8,), epochs=2, batch_size=16, random_state=0), X, path)
    return path


def _entries(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _meta(path) -> dict:
    return json.loads(str(np.load(io.BytesIO(_entries(path)["nnlite.json.npy"]))))


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=True)
    return buf.getvalue()


def _craft(path, out, meta=None, replace=None, add=None, meta_text=None, compression=zipfile.ZIP_STORED):
    """A copy of checkpoint ``path`` at ``out`` with its metadata, or some entries, replaced."""
    entries = _entries(path)
    if meta is not None or meta_text is not None:
        text = meta_text if meta_text is not None else json.dumps(meta)
        entries["nnlite.json.npy"] = _npy(np.array(text))
    for name, data in (replace or {}).items():
        entries[name] = data
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name, data in (add or {}).items():
            z.writestr(name, data)
    return out


# ------------------------------------------------------------------------------ 1. the model-class hole
def _calling(genuine, tmp_path, dotted, config):
    meta = _meta(genuine)
    meta["model"] = {"class": dotted, "config": config}
    return _craft(genuine, tmp_path / "evil.npz", meta)


def test_a_checkpoint_cannot_call_atomic_write_text(genuine, tmp_path):
    marker = tmp_path / "site-packages" / "evil.pth"
    evil = _calling(genuine, tmp_path, "nnlite.checkpoint.atomic_write_text",
                    {"path": str(marker), "text": "import os; os.system('touch pwned')"})
    with pytest.raises(CheckpointError, match=r"evil\.npz: the checkpoint's model class "
                                              r"'nnlite\.checkpoint\.atomic_write_text' is not one of nnlite's models"):
        restore_model(evil)
    assert not marker.exists() and not marker.parent.exists()


def test_a_checkpoint_cannot_call_the_network(genuine, tmp_path, monkeypatch):
    from nnlite.data import _locate

    calls = []
    monkeypatch.setattr(_locate, "_urlopen", lambda *a, **k: calls.append(a))
    evil = _calling(genuine, tmp_path, "nnlite.data._locate._urlopen", {"url": "http://127.0.0.1:9/beacon"})
    with pytest.raises(CheckpointError, match="is not one of nnlite's models"):
        restore_model(evil)
    assert calls == []


def test_a_checkpoint_cannot_run_the_demo(genuine, tmp_path):
    out = tmp_path / "demo-out"
    evil = _calling(genuine, tmp_path, "nnlite.demo.run_demo", {"out": str(out)})
    with pytest.raises(CheckpointError, match="is not one of nnlite's models"):
        restore_model(evil)
    assert not out.exists()


def test_a_checkpoint_cannot_run_the_cli(genuine, tmp_path):
    out = tmp_path / "cli-out"
    evil = _calling(genuine, tmp_path, "nnlite.cli.main", {"argv": ["demo", "--out", str(out)]})
    with pytest.raises(CheckpointError, match="is not one of nnlite's models"):
        restore_model(evil)
    assert not out.exists()


def test_the_sample_command_refuses_a_function_checkpoint(genuine, tmp_path):
    marker = tmp_path / "marker.txt"
    evil = _calling(genuine, tmp_path, "nnlite.atomic.atomic_write_text", {"path": str(marker), "text": "x"})
    run = subprocess.run([sys.executable, "-m", "nnlite", "sample", str(evil), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "is not one of nnlite's models" in run.stderr, run.stderr
    assert not marker.exists()


@pytest.mark.parametrize("config, match", [
    ({"latent_dim": 2, "path": "/tmp/x"}, r"unknown argument\(s\) \['path'\]"),
    ({"latent_dim": {"__class__": "x"}}, r"latent_dim=.*a dict is not a configuration value"),
    ({"hidden": list(range(1000))}, r"a list of more than 64 entries"),
    ({"activation": "r" * 10_000}, r"a string longer than 256"),
    ({"latent_dim": -3}, r"cannot rebuild the model Autoencoder.*latent_dim"),
])
def test_the_configuration_is_checked_against_the_constructor(genuine, tmp_path, config, match):
    meta = _meta(genuine)
    meta["model"]["config"] = config
    with pytest.raises(CheckpointError, match=match):
        restore_model(_craft(genuine, tmp_path / "cfg.npz", meta))


def test_old_checkpoints_naming_the_defining_file_still_load(genuine, tmp_path):
    meta = _meta(genuine)
    meta["model"]["class"] = "nnlite.models.autoencoder.Autoencoder"   # as files written before
    model = restore_model(_craft(genuine, tmp_path / "old.npz", meta))
    assert isinstance(model, Autoencoder) and model.n_features_in_ == 36


# ------------------------------------------------------------------------------ 2. memory
def test_a_config_larger_than_its_weights_is_refused_before_building(genuine, tmp_path):
    meta = _meta(genuine)
    meta["fitted"]["n_features_in_"] = 2_000_000
    meta["fitted"]["input_shape_"] = [2_000_000]
    with pytest.raises(CheckpointError, match=r"asks for a larger Autoencoder than the [\d,]+ weights the file holds"):
        restore_model(_craft(genuine, tmp_path / "wide.npz", meta))
    meta = _meta(genuine)
    meta["model"]["config"]["hidden"] = [200_000, 200_000]     # 149 GiB
    with pytest.raises(CheckpointError, match="asks for a larger Autoencoder"):
        restore_model(_craft(genuine, tmp_path / "deep.npz", meta))


def test_fitted_sizes_must_agree(genuine, tmp_path):
    meta = _meta(genuine)
    meta["fitted"]["input_shape_"] = [7, 7]
    with pytest.raises(CheckpointError, match=r"input_shape_ \[7, 7\] holds 49 values, n_features_in_ says 36"):
        restore_model(_craft(genuine, tmp_path / "shape.npz", meta))
    meta = _meta(genuine)
    meta["fitted"]["_build"] = 1         # would shadow a method
    with pytest.raises(CheckpointError, match=r"'_build' is not a fitted attribute"):
        restore_model(_craft(genuine, tmp_path / "shadow.npz", meta))


@functools.cache
def _bomb_entry(n_bytes: int) -> bytes:
    """A deflated run of zeros that expands to ``n_bytes``, streamed (never held whole)."""
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(2**20)
    parts = [comp.compress(chunk) for _ in range(n_bytes // len(chunk))]
    return b"".join(parts) + comp.flush()


def test_unused_and_oversized_entries_are_never_decompressed(genuine, tmp_path):
    unused = _bomb_entry(256 * 2**20)          # 256 MB of zeros in about 250 KB
    out = tmp_path / "bomb.npz"
    entries = _entries(genuine)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for n, data in entries.items():
            z.writestr(n, data)
    _append_deflated(out, [(f"junk{i}.npy", unused, 256 * 2**20) for i in range(4)])
    assert out.stat().st_size < 5 * 2**20
    ck = read_checkpoint(out)                   # reads only what the metadata names
    assert set(ck.model_state) == set(_meta(genuine)["model_keys"])

    meta = _meta(genuine)
    meta["model_keys"]["decoder.0.weight"] = [2**31]
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**31,)})
    huge = _craft(genuine, tmp_path / "huge.npz", meta, replace={"model/decoder.0.weight.npy": header.getvalue() + b"\0" * 64})
    with pytest.raises(CheckpointError, match=r"entry 'model/decoder\.0\.weight' .*(declares|promises)"):
        read_checkpoint(huge)


def _append_deflated(out, members):
    """Append raw deflate streams as zip members of the declared uncompressed sizes (CRC left wrong: the
    reader must refuse or skip them before it ever checks one)."""
    import struct
    import zlib

    data = bytearray(open(out, "rb").read())
    with zipfile.ZipFile(out) as z:
        infos = z.infolist()
        cd_offset = z.start_dir
    central = bytearray(data[cd_offset:data.rfind(b"PK\x05\x06")])
    body = bytearray(data[:cd_offset])
    for name, raw, size in members:
        offset = len(body)
        fname = name.encode()
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, zlib.crc32(b""), len(raw), size & 0xFFFFFFFF,
                            len(fname), 0)
        body += local + fname + raw
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, zlib.crc32(b""), len(raw),
                               size & 0xFFFFFFFF, len(fname), 0, 0, 0, 0, 0, offset) + fname
    n = len(infos) + len(members)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), len(body), 0)
    open(out, "wb").write(bytes(body + central + end))


def test_peak_memory_and_time_stay_bounded_on_hostile_files(genuine, tmp_path):
    """Each crafted file (all under 10 MB) is opened in a fresh process: it must fail with a CheckpointError
    (or load, for the unused-bomb one) with a peak RSS under 512 MB."""
    files = []
    meta = _meta(genuine)
    meta["fitted"]["n_features_in_"], meta["fitted"]["input_shape_"] = 50_000_000, [50_000_000]  # 1.6 GB of weights
    files.append(_craft(genuine, tmp_path / "wide.npz", meta))
    meta = _meta(genuine)
    meta["model"]["config"]["hidden"] = [200_000, 200_000]
    files.append(_craft(genuine, tmp_path / "deep.npz", meta))
    files.append(_craft(genuine, tmp_path / "nested.npz", meta_text="[" * 200_000 + "]" * 200_000))
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w") as z:
        for n, data in _entries(genuine).items():
            z.writestr(n, data)
    _append_deflated(bomb, [(f"junk{i}.npy", _bomb_entry(256 * 2**20), 256 * 2**20) for i in range(8)])
    files.append(bomb)
    meta = _meta(genuine)
    meta["model_keys"]["decoder.0.weight"] = [2**31]
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**31,)})
    files.append(_craft(genuine, tmp_path / "declared.npz", meta,
                        replace={"model/decoder.0.weight.npy": header.getvalue() + b"\0" * 64}))
    assert all(f.stat().st_size < 10 * 2**20 for f in files)
    script = textwrap.dedent("""
        import sys, time
        from nnlite.checkpoint import CheckpointError
        from nnlite.models.persistence import restore_model
        for path in sys.argv[1:]:
            t = time.perf_counter()
            try:
                restore_model(path)
                outcome = "loaded"
            except CheckpointError as exc:
                outcome = "CheckpointError"
            print(path, outcome, round(time.perf_counter() - t, 2))
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's peak (the pytest process)
        hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
        print("peak_mb", round(hwm_kb / 1024))
    """)
    run = subprocess.run([sys.executable, "-c", script, *map(str, files)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    *outcomes, peak = run.stdout.split("\n")[:-1]
    for line, f in zip(outcomes, files):
        name, outcome, _seconds = line.split()
        assert outcome == ("loaded" if f.name == "bomb.npz" else "CheckpointError"), line
    assert int(peak.split()[1]) < PEAK_MEMORY_LIMIT_MB, f"peak RSS {peak} MB opening {[f.name for f in files]}"


# ------------------------------------------------------------------------------ 6. error contracts
@pytest.mark.parametrize("change, match", [
    (lambda m: m.update(model="VAE"), r"metadata field 'model' should be an object"),
    (lambda m: m.update(version="abc"), r"metadata field 'version' should be a whole number"),
    (lambda m: m.update(version=True), r"metadata field 'version' should be a whole number"),
    (lambda m: m.update(model_keys=[1, 2]), r"metadata field 'model_keys'"),
    (lambda m: m["model_keys"].update({"encoder.0.weight": "big"}), r"metadata field 'model_keys'"),
    (lambda m: m.update(trainer="x"), r"metadata field 'trainer'"),
    (lambda m: m["trainer"].update(epoch=-1), r"metadata field 'trainer.epoch'"),
    (lambda m: m["trainer"].update(history={"loss": ["a"]}), r"metadata field 'trainer.history'"),
    (lambda m: m.update(optimizer=[]), r"metadata field 'optimizer'"),
    (lambda m: m.update(fitted=3), r"metadata field 'fitted'"),
])
def test_malformed_metadata_is_a_checkpoint_error(genuine, tmp_path, change, match):
    meta = _meta(genuine)
    change(meta)
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(_craft(genuine, tmp_path / "bad.npz", meta))


def test_deeply_nested_json_is_a_checkpoint_error(genuine, tmp_path):
    with pytest.raises(CheckpointError, match="nests deeper than any checkpoint"):
        read_checkpoint(_craft(genuine, tmp_path / "nested.npz", meta_text="[" * 200_000 + "]" * 200_000))


def _trained_pair(tmp_path):
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    model = nnlite.Sequential(nnlite.Linear(6, 4, random_state=0), nnlite.ReLU(), nnlite.Linear(4, 6, random_state=1))
    trainer = nnlite.Trainer(model, optim.Adam(model, lr=1e-2), loss=nnlite.losses.MSELoss(), batch_size=5, epochs=1,
                             random_state=0, verbose=0)
    trainer.fit(X)
    return model, trainer, save_checkpoint(tmp_path / "run.npz", model, trainer.optimizer, trainer)


def test_a_wrong_generator_state_is_a_checkpoint_error(tmp_path):
    model, trainer, path = _trained_pair(tmp_path)
    meta = _meta(path)
    meta["trainer"]["rng"] = {"bit_generator": "MT19937", "state": {"key": [1], "pos": 0}}
    bad = _craft(path, tmp_path / "rng.npz", meta)
    before = trainer.state_dict()
    with pytest.raises(CheckpointError, match=r"the trainer's shuffling generator is not a valid PCG64 state"):
        load_checkpoint(bad, trainer=trainer)
    assert trainer.state_dict() == before


@pytest.mark.parametrize("dtype_name, array", [
    ("bool", np.ones((4, 6), bool)), ("complex", np.ones((4, 6), np.complex64)), ("str", np.full((4, 6), "a")),
    ("datetime", np.zeros((4, 6), "datetime64[s]")), ("struct", np.zeros((4, 6), [("a", "f4"), ("b", "f4")])),
    ("int64", np.ones((4, 6), np.int64)),
])
def test_weights_of_another_dtype_are_refused_and_nothing_changes(tmp_path, dtype_name, array):
    model, trainer, path = _trained_pair(tmp_path)
    last = "2.weight"                      # the last tensor: an old loader had overwritten all the others first
    bad = _craft(path, tmp_path / f"{dtype_name}.npz", replace={f"model/{last}.npy": _npy(array)})
    target = nnlite.Sequential(nnlite.Linear(6, 4, random_state=5), nnlite.ReLU(), nnlite.Linear(4, 6, random_state=6))
    before = target.state_dict()
    with pytest.raises(CheckpointError, match=r"holds .* values"):
        load_checkpoint(bad, model=target)
    for k, v in target.state_dict().items():
        assert np.array_equal(v, before[k]), f"{k} changed although loading failed"


def test_a_failure_after_the_weights_puts_the_model_back(tmp_path):
    """The optimizer's state fails to apply after the weights went in: the weights are restored."""
    model, trainer, path = _trained_pair(tmp_path)
    target = nnlite.Sequential(nnlite.Linear(6, 4, random_state=5), nnlite.ReLU(), nnlite.Linear(4, 6, random_state=6))
    opt = optim.Adam(target, lr=1e-2)

    def broken_load(state):
        raise RuntimeError("disk on fire")

    opt.load_state_dict = broken_load
    before = target.state_dict()
    with pytest.raises(CheckpointError, match="disk on fire.*nothing was changed"):
        load_checkpoint(path, model=target, optimizer=opt)
    for k, v in target.state_dict().items():
        assert np.array_equal(v, before[k]), k


@pytest.mark.parametrize("name, value, match", [
    ("lr", "fast", r"hyper-parameter lr='fast' is not of the kind Adam uses"),
    ("lr", True, r"hyper-parameter lr=True is not of the kind Adam uses"),
    ("eps", 0.0, r"hyper-parameters refused .*eps"),              # NaN weights after a zero-gradient step
    ("betas", [0.9, 1.5], r"hyper-parameters refused .*beta"),
])
def test_optimizer_hyper_parameters_from_a_file_are_checked(tmp_path, name, value, match):
    model, trainer, path = _trained_pair(tmp_path)
    meta = _meta(path)
    tree = meta["optimizer"]["tree"]["__dict__"]
    hyper = dict(tree)["hyper"]["__dict__"]
    for pair in hyper:
        if pair[0] == name:
            pair[1] = value if not isinstance(value, list) else {"__tuple__": value}
    bad = _craft(path, tmp_path / "hyper.npz", meta)
    opt = optim.Adam(model, lr=1e-2)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(bad, optimizer=opt)
    assert opt.lr == 1e-2 and opt.hyper["eps"] == 1e-8


def test_other_files_never_get_pickle_advice(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("just some text")
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(text)
    assert "pickle" not in str(info.value) and "truncated, damaged or not a .npz checkpoint" in str(info.value)
    npy = tmp_path / "samples.npy"
    np.save(npy, np.zeros((3, 4)))
    with pytest.raises(CheckpointError, match=r"samples\.npy: .*a single NumPy array \(\.npy\), not a checkpoint"):
        read_checkpoint(npy)


def test_a_device_is_not_read(tmp_path):
    link = tmp_path / "zero.npz"
    os.symlink("/dev/zero", link)
    with pytest.raises(CheckpointError, match="is not a regular file"):
        read_checkpoint(link)


# ------------------------------------------------------------------------------ 3. two runs, one folder
_HOLD = textwrap.dedent("""
    import sys, time
    from nnlite.atomic import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_writer_gets_a_clear_error_naming_the_holder(tmp_path):
    from nnlite.callbacks import ModelCheckpoint

    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusyError, match=rf"{tmp_path} is in use by another nnlite run \(process "
                                                     rf"{holder.pid} holds"):
            RunLock(tmp_path).acquire()
        X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
        model = nnlite.Sequential(nnlite.Linear(4, 4, random_state=0))
        trainer = nnlite.Trainer(model, optim.Adam(model), loss=nnlite.losses.MSELoss(), epochs=1, verbose=0,
                                 callbacks=[ModelCheckpoint(tmp_path / "ck.npz")])
        with pytest.raises(RunFolderBusyError, match=f"process {holder.pid}"):
            trainer.fit(X)
        assert not (tmp_path / "ck.npz").exists()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path):           # the holder is gone: the folder is free again
        pass


def test_only_dead_writers_temporaries_are_removed(tmp_path):
    target = tmp_path / "ck.npz"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        live_tmp = tmp_path / f".ck.npz.{live.pid}.abc123.tmp"
        dead_tmp = tmp_path / f".ck.npz.{dead.pid}.def456.tmp"
        live_tmp.write_bytes(b"half")
        dead_tmp.write_bytes(b"half")
        atomic_write_text(target, "x")
        assert live_tmp.exists(), "a live writer's temporary file was removed"
        assert not dead_tmp.exists()
        assert remove_stale_temporaries(target) == []
    finally:
        live.kill()
        live.wait()


def test_written_files_get_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "history.json", "{}")
        ck = save_checkpoint(tmp_path / "ck.npz", nnlite.Sequential(nnlite.Linear(2, 2)))
    finally:
        os.umask(old)
    for p in (path, ck, ck.with_suffix(".json")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, f"{p.name}: {oct(stat.S_IMODE(p.stat().st_mode))}"


# ------------------------------------------------------------------------------------------ the weights manifest
@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from pretrained_tiny import make_tiny_folder

    return make_tiny_folder(tmp_path_factory.mktemp("weights"))


def _weights_copy(tiny_weights, tmp_path):
    import shutil

    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    return folder


@pytest.mark.parametrize("case, text, fragment", [
    ("200,000-deep nesting", "[" * 200_000 + "]" * 200_000, "nests too deeply"),
    ("a 5000-digit integer", '{"photo-denoiser-rgb": {"file": "x", "sha256": "y", "seed": ' + "9" * 5000 + "}}",
     "a value JSON cannot give back"),
])
def test_a_hostile_manifest_is_a_weights_error(tiny_weights, tmp_path, case, text, fragment):
    from nnlite.weights import WeightsError, pretrained

    folder = _weights_copy(tiny_weights, tmp_path)
    (folder / "MANIFEST.json").write_text(text)
    with pytest.raises(WeightsError, match=fragment) as info:
        pretrained("photo-denoiser", folder=folder)
    assert "MANIFEST.json" in str(info.value), case


def test_a_huge_manifest_is_refused_from_its_size_before_it_is_read(tiny_weights, tmp_path, monkeypatch):
    import nnlite.weights as weights

    folder = _weights_copy(tiny_weights, tmp_path)
    with open(folder / "MANIFEST.json", "r+b") as f:       # sparse: 1.5 GB declared, nothing written
        f.truncate(1_500_000_000)
    monkeypatch.setattr(weights.json, "loads", lambda *a, **k: pytest.fail("the manifest was parsed"))
    with pytest.raises(weights.WeightsError, match=r"holds 1,500,000,000 bytes, more than the 1,048,576"):
        weights.manifest(folder)


def test_a_checkpoint_of_another_model_class_with_a_matching_entry_is_refused(tiny_weights, tmp_path):
    from nnlite.models import ConvDenoisingAutoencoder
    from nnlite.weights import WeightsError, pretrained, sha256_of

    folder = _weights_copy(tiny_weights, tmp_path)
    X = np.random.default_rng(0).random((4, 3, 8, 8)).astype(np.float32)
    other = ConvDenoisingAutoencoder(channels=(4,), epochs=1, random_state=0).fit(X)
    path = save_checkpoint(folder / "photo-denoiser-rgb.npz", other, sidecar=False)
    doc = json.loads((folder / "MANIFEST.json").read_text())
    doc["photo-denoiser-rgb"]["sha256"] = sha256_of(path)
    (folder / "MANIFEST.json").write_text(json.dumps(doc))
    with pytest.raises(WeightsError, match=r"hold a .*ConvDenoisingAutoencoder model, but 'photo-denoiser-rgb' must "
                                           r"be a ResidualDenoiser"):
        pretrained("photo-denoiser", folder=folder)
