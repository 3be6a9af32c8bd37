"""The benchmarks' import graph: no cycle, nothing imports ``benchmarks.__main__`` (the command line),
and no benchmark imports ``examples`` (an example is a flat script a user copies, not a library).
Read from the source with ``ast``, so nothing is run or timed."""
import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _imports(path: Path) -> set[str]:
    """Top-level module names (``benchmarks.x``, ``examples.y``, ...) imported anywhere in ``path``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            if node.module == "benchmarks":
                out.update(f"benchmarks.{a.name}" for a in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    mods = {f"benchmarks.{p.stem}": p for p in BENCH.glob("*.py") if p.stem != "__init__"}
    return {m: {i for i in _imports(p) if i in mods} for m, p in mods.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n, stack + [n])
                if found:
                    return found
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_benchmark_imports_have_no_cycle():
    assert _cycle(_graph()) is None, f"import cycle in benchmarks/: {' -> '.join(_cycle(_graph()))}"


def test_no_benchmark_imports_the_command_line_module():
    offenders = sorted(m for m, deps in _graph().items() if "benchmarks.__main__" in deps)
    assert not offenders, f"{offenders} import benchmarks.__main__; shared helpers belong in benchmarks.timing"


def test_no_benchmark_imports_examples():
    offenders = sorted(p.name for p in BENCH.glob("*.py")
                       if any(i == "examples" or i.startswith("examples.") for i in _imports(p)))
    assert not offenders, f"{offenders} import examples.*"
