"""The wheel must carry every subpackage and the built-in bitmap data."""
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nnlite").rglob("__init__.py")}
    missing = on_disk - listed
    assert not missing, f"add these packages to setup.cfg [options] packages: {sorted(missing)}"
    assert "nnlite.datasets" in listed


def test_bitmap_data_is_package_data():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["nnlite.datasets"]
    assert "*.txt" in patterns
    assert list((ROOT / "datasets").glob("*.txt")), "datasets/ holds the font and emoji text files"
