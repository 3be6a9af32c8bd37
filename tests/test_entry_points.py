"""``python -m nnlite`` runs the command line; importing ``nnlite.__main__`` (Sphinx's autosummary does,
with its own ``sys.argv``) runs nothing."""
import importlib
import subprocess
import sys

import nnlite


def test_importing_main_runs_no_command(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sphinx-build", "html", ".", "_build/html"])
    sys.modules.pop("nnlite.__main__", None)
    module = importlib.import_module("nnlite.__main__")      # would raise SystemExit(2) if it parsed argv
    assert module.main is nnlite.cli.main
    assert capsys.readouterr() == ("", "")


def test_python_m_nnlite_runs_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "nnlite", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert nnlite.__version__ in proc.stdout + proc.stderr
