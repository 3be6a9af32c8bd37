"""``python -m benchmarks.photos``: the harness on one small crop (``--quick``), with tiny weights, with
and without the comparison methods, and its cache of classical results. Nothing here is timed."""
import json

import numpy as np
import pytest
from pretrained_tiny import make_tiny_folder

from benchmarks import photos


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("weights"))


def test_quick_run_writes_the_table_the_json_and_the_figure(tiny, tmp_path, monkeypatch):
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    assert photos.main(["--quick", "--weights", str(tiny), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "photos_quick.json").read_text())
    (row,) = result["rows"]
    assert row["photo"] == "synthetic" and row["sigma"] == 0.1
    assert 19 < row["noisy"] < 22, row                    # sigma 0.1 clipped: about 20 dB
    assert np.isfinite(row["nnlite"]) and row["nnlite_s_per_mp"] > 0
    assert result["columns"][-1] == "nnlite"
    for c in set(result["columns"]) - {"nnlite"}:
        assert row[c] > row["noisy"] + 3, (c, row)       # NLM and BM3D, when installed, do their job
    text = (tmp_path / "photos_quick.md").read_text()
    assert "| synthetic" in text and "Means per kind and sigma" in text and result["command"] in text
    assert (tmp_path / "photos_quick_crops.png").stat().st_size > 10_000


def test_without_the_comparison_methods_the_table_has_nnlite_only_and_says_why(tiny, tmp_path, monkeypatch):
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setattr(photos, "available_classical",
                        lambda: ({}, ["BM3D needs the bm3d package (pip install 'nnlite[compare]')"]))
    photos.main(["--quick", "--weights", str(tiny), "--out", str(tmp_path)])
    result = json.loads((tmp_path / "photos_quick.json").read_text())
    assert result["columns"] == ["nnlite"]
    text = (tmp_path / "photos_quick.md").read_text()
    assert "pip install 'nnlite[compare]'" in text and "BM3D |" not in text and "nnlite - BM3D" not in text


def test_the_noise_is_fixed_by_seed_photo_kind_and_sigma():
    clean = photos.synthetic_photo(16)
    a = photos.noisy_version(clean, "x.png", "rgb", 0.1, 0)
    assert np.array_equal(a, photos.noisy_version(clean, "x.png", "rgb", 0.1, 0))
    assert a.min() >= 0 and a.max() <= 1 and a.dtype == np.float32
    for other in (("y.png", "rgb", 0.1, 0), ("x.png", "grey", 0.1, 0), ("x.png", "rgb", 0.2, 0),
                  ("x.png", "rgb", 0.1, 1)):
        assert not np.array_equal(a, photos.noisy_version(clean, *other)), other
    assert abs(float(np.std(photos.noisy_version(np.full((200, 200), 0.5), "z", "grey", 0.1, 0))) - 0.1) < 0.005


def test_the_cache_keeps_results_across_runs_and_drops_stale_ones(tmp_path):
    path = tmp_path / "cache.json"
    cache = photos.Cache(path)
    key = photos.Cache.key("a.png", "rgb", 0.1, 0, "bm3d")
    crop = np.linspace(0, 1, 12, dtype=np.float32).reshape(2, 2, 3)
    cache.put(key, {"psnr": 30.0, "seconds": 2.0, "shape": [4, 4, 3], "version": "bm3d 4", "crop_box": [0, 0, 2],
                    "crop_psnr": 31.0}, crop)
    again = photos.Cache(path)
    assert again.get(key, (4, 4, 3), "bm3d 4", [0, 0, 2])["psnr"] == 30.0
    assert np.abs(again.crops[key] / 255 - crop).max() <= 0.5 / 255
    assert again.get(key, (4, 5, 3), "bm3d 4", [0, 0, 2]) is None          # another image size
    assert again.get(key, (4, 4, 3), "bm3d 5", [0, 0, 2]) is None          # another library version
    assert again.get(key, (4, 4, 3), "bm3d 4", [1, 0, 2]) is None          # another crop
    assert again.get(photos.Cache.key("a.png", "rgb", 0.2, 0, "bm3d"), (4, 4, 3), "bm3d 4", None) is None


def test_a_cached_classical_result_is_not_recomputed(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    calls = []
    monkeypatch.setattr(photos, "available_classical", lambda: ({"nlm": "fake 1"}, []))
    monkeypatch.setattr(photos, "run_classical", lambda m, z, s: calls.append(m) or np.clip(z * 0 + 0.5, 0, 1))
    cache = tmp_path / "c.json"
    for _ in range(2):
        photos.main(["--quick", "--classical-only", "--cache", str(cache), "--out", str(tmp_path)])
    assert calls == ["nlm"]
    assert json.loads((tmp_path / "photos_quick.json").read_text())["rows"][0]["nlm"] > 0
