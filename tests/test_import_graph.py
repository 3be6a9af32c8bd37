"""Imports inside nnlite run one way: the graph of which module imports which has no cycle.

Every ``import`` statement counts, at module level and inside functions alike (a lazy import that only
exists to dodge a cycle is still a cycle in the design). An edge from a module to the package that
contains it (``from . import sibling``) is not counted: a package's ``__init__`` re-exports its
children, so that edge is how Python reaches a sibling, not a dependency on the package.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nnlite

ROOT = Path(nnlite.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:      # nnlite.x.func -> nnlite.x
                    target = target.rpartition(".")[0]
                if not target or target == name or name.startswith(target + "."):
                    continue
                graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}          # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_checkpoint_reads_files_without_the_models():
    """The file format sits below the models: it never imports them."""
    reachable, todo, graph = set(), ["nnlite.checkpoint"], import_graph()
    while todo:
        for nxt in graph[todo.pop()] - reachable:
            reachable.add(nxt)
            todo.append(nxt)
    assert not {m for m in reachable if m.startswith(("nnlite.models", "nnlite.trainer", "nnlite.cli"))}, reachable


# ---------------------------------------------------------------------------------- the ops boundary
#: What only nnlite.ops may import: Numba, the fast backend, the thread policy and every private module of
#: nnlite.ops (the kernels, the Numba set-up, the fast conv ops). Everything else computes through the ops
#: (``from .. import ops``; ``ops.dense_forward(...)``) and reaches the thread policy as the attribute
#: ``nnlite.ops.threads``.
BEHIND_THE_BOUNDARY = ("numba", "nnlite.ops.fast", "nnlite.ops.threads")


def _behind(target: str) -> bool:
    return (any(target == b or target.startswith(b + ".") for b in BEHIND_THE_BOUNDARY)
            or target.startswith("nnlite.ops._"))


def _imported_names(path: Path, name: str) -> set[str]:
    """Every module an import statement of ``path`` names (resolved, unfiltered: ``numba`` included)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def boundary_violations(modules: dict[str, Path]) -> dict[str, list[str]]:
    out = {}
    for name, path in modules.items():
        if name == "nnlite.ops" or name.startswith("nnlite.ops."):
            continue
        bad = sorted(t for t in _imported_names(path, name) if _behind(t))
        if bad:
            out[name] = bad
    return out


def test_nothing_outside_ops_imports_numba_the_kernels_or_the_thread_policy():
    bad = boundary_violations(_modules())
    assert not bad, ("these modules reach behind nnlite.ops (use `from .. import ops` and the ops, or "
                     f"ops.threads): {bad}")


def test_the_boundary_check_finds_a_planted_kernel_import(tmp_path):
    pkg = tmp_path / "nnlite"
    (pkg / "layers").mkdir(parents=True)
    (pkg / "layers" / "conv.py").write_text("from ..ops._kernels import conv as K\n")
    (pkg / "optim.py").write_text("from .ops import threads\n")
    (pkg / "losses.py").write_text("import numba\n")
    (pkg / "ok.py").write_text("from . import ops\nfrom .ops import use\n")
    modules = {"nnlite.layers.conv": pkg / "layers" / "conv.py", "nnlite.optim": pkg / "optim.py",
               "nnlite.losses": pkg / "losses.py", "nnlite.ok": pkg / "ok.py"}
    assert boundary_violations(modules) == {"nnlite.layers.conv": ["nnlite.ops._kernels", "nnlite.ops._kernels.conv"],
                                            "nnlite.optim": ["nnlite.ops.threads"], "nnlite.losses": ["numba"]}
