"""The house rules that keep the code readable: storage owns every SQL statement, modules import
one another without cycles, and dependencies point from later pipeline stages to earlier ones."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = PROJECT_ROOT / "analyzer"
# A string that starts like an SQL statement, or holds a clause no prose has.
SQL_STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b"
    r"|\bSELECT\b.+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b"
)
DB_CALLS = {"execute", "executemany", "executescript", "conn", "cursor"}


def python_files(*roots: Path) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        files.extend([root] if root.is_file() else sorted(root.rglob("*.py")))
    return files


def outside_storage() -> list[Path]:
    files = python_files(PACKAGE, PROJECT_ROOT / "app.py", PROJECT_ROOT / "app_pages")
    return [f for f in files if "storage" not in f.relative_to(PROJECT_ROOT).parts[:2]]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@pytest.mark.parametrize("path", outside_storage(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_sql_outside_storage(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL_STATEMENT.search(node.value)
        ):
            found.append(f"line {node.lineno}: SQL text {node.value[:60]!r}")
        if isinstance(node, ast.Attribute) and node.attr in DB_CALLS:
            found.append(f"line {node.lineno}: database call .{node.attr}")
    assert not found, (
        f"{path.name} talks to the database directly; add a Store method instead: {found}"
    )


def test_the_rule_catches_sql() -> None:
    assert SQL_STATEMENT.search("SELECT id FROM documents")
    assert SQL_STATEMENT.search("  DELETE FROM flags WHERE 1")
    assert not SQL_STATEMENT.search("Select a row to open the entity.")
    assert not SQL_STATEMENT.search("Update the card with `analyzer evaluate`.")


def import_graph() -> dict[str, set[str]]:
    """Every import of one analyzer module by another, wherever it appears (a function-level
    import is still a dependency)."""
    graph: dict[str, set[str]] = defaultdict(set)
    modules = {module_name(p): p for p in python_files(PACKAGE)}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - node.level + 1]
                        + ([base] if base else [])
                    )
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_modules_import_each_other_without_cycles() -> None:
    graph = import_graph()
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


# Earlier stages never import later ones: storage is the base, the CLI and the app the top.
LAYERS = {
    "analyzer.errors": 0,
    # Text primitives every stage may use: sentence splitting, segment kinds and language detection.
    "analyzer.scoring.sentences": 1,
    "analyzer.scoring.segments": 1,
    "analyzer.scoring.language": 1,
    "analyzer.storage": 1,
    "analyzer.ingest": 2,
    "analyzer.entities": 2,
    "analyzer.fundamentals": 2,
    "analyzer.scoring": 3,
    "analyzer.training": 4,
    "analyzer.analysis": 4,
    "analyzer.views": 5,
    "analyzer.pipeline": 6,
    "analyzer.demo": 6,
    "analyzer.cli": 7,
}


def layer_of(module: str) -> int | None:
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def test_dependencies_point_from_later_stages_to_earlier_ones() -> None:
    backwards = []
    for source, targets in import_graph().items():
        for target in targets:
            here, there = layer_of(source), layer_of(target)
            if here is not None and there is not None and there > here:
                backwards.append(f"{source} -> {target}")
    assert not backwards, f"imports against the pipeline's direction: {sorted(backwards)}"


def test_the_public_api_is_one_import_away_and_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, analyzer\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "names = {n: getattr(analyzer, n) for n in analyzer.__all__}\n"
        "assert callable(names['ingest_inputs']) and callable(names['score_store'])\n"
        "assert hasattr(names['results'], 'divergence_frame') and names['Store'].__name__ == 'Store'\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


FORMATTED = ("analyzer", "tests", "app.py", "app_pages", "benchmarks", "corpora")


def test_the_code_is_ruff_formatted() -> None:
    """`ruff format` is the house style; a file it would change fails here with its name."""
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (make setup installs it)")
    done = subprocess.run(
        [ruff, "format", "--check", *FORMATTED],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
