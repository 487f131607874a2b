"""The layers hold: every module imports only its own layer or lower, and sub-packages form no
cycle. The rule is read from the code itself (ast), imports inside functions included."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("compliance", "flows", "tasks")

# Top to bottom. A module may import modules of its own layer or of any layer below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry points", ("compliance.cli", "compliance.evaluation")),
    ("flows", ("flows",)),
    ("stages", ("tasks",)),
    ("run context", ("compliance.context",)),
    ("library", ("compliance.adapters", "compliance.store", "compliance.rules",
                 "compliance.scoring", "compliance.extract", "compliance.read",
                 "compliance.briefs")),
    ("foundation", ("compliance.vocab", "compliance.settings", "compliance.environment",
                    "compliance.textnorm")),
)


def unit_of(module: str) -> str | None:
    """The layer member (a package or a top-level module) a module belongs to."""
    best = None
    for _, members in LAYERS:
        for member in members:
            if (module == member or module.startswith(member + ".")) and (
                    best is None or len(member) > len(best)):
                best = member
    return best


def rank_of(unit: str) -> int:
    """0 for the top layer; larger is lower."""
    return next(rank for rank, (_, members) in enumerate(LAYERS) if unit in members)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_imports(path: Path, module: str) -> set[str]:
    """Every project module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] in PACKAGES}
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the project modules it imports (only those that exist as modules/packages)."""
    modules = {module_name(p, root): p for package in PACKAGES
               for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {name for name in project_imports(path, module) if name in modules}
    return graph


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer, and modules that sit in no layer."""
    problems = []
    for module, imported in sorted(graph.items()):
        unit = unit_of(module)
        if unit is None:
            if module not in PACKAGES:
                problems.append(f"{module} sits in no layer: move it into one (tests/unit/"
                                "test_layers.py lists them)")
            continue
        for name in sorted(imported):
            target = unit_of(name)
            if target is not None and rank_of(target) < rank_of(unit):
                problems.append(f"{module} ({LAYERS[rank_of(unit)][0]}) imports {name} "
                                f"({LAYERS[rank_of(target)][0]}): a lower layer never imports "
                                "a higher one")
    return problems


def subpackage(module: str) -> str:
    """The unit of the cycle check: a stage or library sub-package, e.g. tasks.summarize."""
    parts = module.split(".")
    return ".".join(parts[:2])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles between sub-packages (each reported once, as a path)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph.items():
        for name in imported:
            a, b = subpackage(module), subpackage(name)
            if a != b and a not in PACKAGES and b not in PACKAGES:
                edges[a].add(b)
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_a_higher_layer():
    assert violations(import_graph(ROOT)) == []


def test_no_cycle_between_sub_packages():
    assert cycles(import_graph(ROOT)) == []


def test_the_check_catches_an_upward_import_and_a_cycle(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "compliance" / "store").mkdir()
    (tmp_path / "compliance" / "store" / "__init__.py").write_text("")
    (tmp_path / "compliance" / "store" / "db.py").write_text(
        "def f():\n    from flows.pipeline import run\n")
    (tmp_path / "compliance" / "rules").mkdir()
    (tmp_path / "compliance" / "rules" / "__init__.py").write_text("")
    (tmp_path / "compliance" / "rules" / "a.py").write_text("from compliance.store import db\n")
    (tmp_path / "compliance" / "store" / "b.py").write_text("from compliance.rules import a\n")
    (tmp_path / "flows" / "pipeline.py").write_text("from tasks import x\n")
    (tmp_path / "tasks" / "x.py").write_text("")
    graph = import_graph(tmp_path)
    assert violations(graph) == [
        "compliance.store.db (library) imports flows.pipeline (flows): a lower layer never "
        "imports a higher one"]
    assert cycles(graph) == [["compliance.rules", "compliance.store", "compliance.rules"]]


@pytest.mark.parametrize("module", ["compliance.cli.main", "flows.pipeline", "tasks.flag",
                                    "compliance.store.db", "compliance.vocab"])
def test_every_layer_has_its_modules(module):
    assert unit_of(module) is not None


# What a run pins in its context (compliance.context.load_inputs): no stage or flow reloads it.
RUN_INPUT_LOADERS = frozenset({"load_rules", "load_price_table", "resolve_model"})
# `compliance summary` computes one document's summary as a run of its own, for the model asked.
OWN_RUNS = frozenset({"tasks/summarize/on_demand.py"})


def test_stages_take_rules_prices_and_model_from_the_run_context():
    offenders = []
    for package in ("tasks", "flows"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() in OWN_RUNS:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in RUN_INPUT_LOADERS:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {name}")
    assert offenders == []
