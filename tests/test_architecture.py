"""The package map of docs/architecture.md, held by walking the import graph of pipeline/.

Arrows point from the face (``commands``) and the stream inwards; a stage package (speech, claims,
ledger, checks) never imports the stream, the warehouse, the console or a broker or database
driver; nothing but ``commands`` (and ``__main__``) imports ``commands``; and no module imports
itself through others. Every import counts, also one inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGE = ROOT / "pipeline"
TOP = "top"  # records, config, errors, jsonl, the package itself and the bundled sample
STAGES = {"speech", "claims", "ledger", "checks"}
ALLOWED: dict[str, set[str]] = {  # package -> the packages it may import (besides itself)
    TOP: set(),
    "speech": {TOP},
    "claims": {TOP},
    "ledger": {TOP},
    "checks": {TOP, "claims", "ledger"},
    "warehouse": {TOP},
    "reporting": {TOP, "warehouse", "speech"},
    "stream": {TOP, "speech", "claims", "ledger", "checks", "warehouse", "reporting"},
    "console": {TOP, "speech", "checks", "warehouse", "reporting"},  # checks: the card review
    "commands": {TOP, "speech", "claims", "ledger", "checks", "warehouse", "reporting", "stream", "console"},
    "__main__": {"commands"},
}
DRIVERS = {"faust", "mode", "kafka", "aiokafka", "clickhouse_driver", "chdb"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def package_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return TOP
    if parts[1] == "__main__":
        return "__main__"
    sub = PACKAGE / parts[1]
    return parts[1] if sub.is_dir() and parts[1] != "sample" else TOP


def imports(module: str) -> tuple[set[str], set[str]]:
    """The pipeline modules and the third-party top-level packages ``module`` imports."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    ours: set[str] = set()
    theirs: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` depends on the submodule, not the package's facade
            inside = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n for n in inside if n in MODULES]
            names += [node.module] if len(names) < len(inside) else []
        else:
            continue
        for name in names:
            if name.split(".")[0] == "pipeline":
                if name in MODULES:
                    ours.add(name)
            else:
                theirs.add(name.split(".")[0])
    return ours - {module}, theirs


GRAPH = {module: imports(module) for module in MODULES}


def test_the_package_map_is_the_one_documented() -> None:
    assert {package_of(m) for m in MODULES} == set(ALLOWED)
    documented = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for package in set(ALLOWED) - {TOP, "__main__"}:
        assert f"pipeline/{package}/" in documented, package


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_inwards(module: str) -> None:
    ours, theirs = GRAPH[module]
    home = package_of(module)
    wrong = sorted(m for m in ours if package_of(m) not in ALLOWED[home] | {home})
    assert not wrong, f"{module} ({home}) may not import {wrong}"
    if home in STAGES | {TOP}:
        assert not theirs & DRIVERS, f"{module} is stage logic: it may not import {theirs & DRIVERS}"


def test_there_is_no_import_cycle() -> None:
    edges = {m: {n for n in ours if n != "pipeline"} for m, (ours, _) in GRAPH.items()}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
