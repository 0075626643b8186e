"""The package's shape: stages import only the stages before them, no cycles, small modules.

These tests read the source (no imports run), so they fail the moment a change breaks the layout
that ARCHITECTURE.md describes.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "{{ cookiecutter.module_name }}"
STAGES = ["data", "training", "evaluation", "serving", "monitoring"]
# What each part may import from the package (beyond itself). The ground modules sit below every
# stage; cli.py, at the top, wires the stages together.
GROUND = {"config", "project", "errors", "contract", "model_files", "metrics"}
ALLOWED = {
    "ground": GROUND,
    "data": GROUND,
    "training": GROUND | {"data"},
    "evaluation": GROUND | {"data", "training"},
    "serving": GROUND | {"data"},
    "monitoring": GROUND | {"data", "serving"},
}
MAX_MODULE_LINES = 250
MAX_TOP_LEVEL_MODULES = 8
FORBIDDEN_IN_SERVING = {"mlflow", "pandera", "evidently", "optuna", "matplotlib"}


def modules() -> dict[str, Path]:
    """Return dotted module name (relative to the package) → file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"] = path
    return found


def imports_of(name: str, path: Path) -> tuple[set[str], set[str]]:
    """Return (the package's modules this module imports, the outside modules it imports)."""
    inside, outside = set(), set()
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            outside.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            outside.add(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1]
            target = [*base, *(node.module.split(".") if node.module else [])]
            for alias in node.names:
                candidate = ".".join([*target, alias.name])
                inside.add(candidate if candidate in modules() else ".".join(target) or "__init__")
    return inside, outside


def part_of(module: str) -> str:
    top = module.split(".")[0]
    return top if top in STAGES else "ground"


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name, path)[0] - {name} for name, path in modules().items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' → '.join(exc.args[1])}")


@pytest.mark.parametrize("name", [n for n in modules() if n not in {"cli", "__main__", "__init__"}])
def test_each_module_imports_only_the_stages_before_it(name: str) -> None:
    part = part_of(name)
    for target in imports_of(name, modules()[name])[0]:
        other = part_of(target)
        reached = target.split(".")[0] if other == "ground" else other
        assert other == part or reached in ALLOWED[part], (
            f"{name} imports {target}: the {part} stage may import only {sorted(ALLOWED[part])}"
        )


@pytest.mark.parametrize("name", [n for n in modules() if part_of(n) == "serving"])
def test_serving_never_imports_training_tools(name: str) -> None:
    _, outside = imports_of(name, modules()[name])
    used = {module.split(".")[0] for module in outside} & FORBIDDEN_IN_SERVING
    assert not used, f"serving/{name} imports {used}: the API must run with the serve extra alone"


@pytest.mark.parametrize("name", list(modules()))
def test_no_private_import_of_a_dependency(name: str) -> None:
    _, outside = imports_of(name, modules()[name])
    private = [m for m in outside if any(part.startswith("_") for part in m.split(".")[1:])]
    assert not private, f"{name} imports private modules {private}: use the library's public API"


@pytest.mark.parametrize("name", list(modules()))
def test_modules_stay_small(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines: split it where two jobs share a room"


def test_the_top_level_holds_only_the_shared_modules() -> None:
    top = sorted(path.name for path in PACKAGE.glob("*.py") if not path.name.startswith("__"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"{len(top)} modules at the top level: {top}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        STAGES
    )
