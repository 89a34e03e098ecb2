"""The package floors, read from the source: no package imports one above it, no module another's private name.

cost_models < frontends < mapper; inside mapper, search/ and chip/ are side by side and know nothing of each
other or of app/ (README, "Module map").  Every import statement counts, module-level or inside a function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cost_models", "frontends", "mapper")

# Who may not import whom: a module under the key's prefix imports none of the listed prefixes.
FORBIDDEN = {
    "cost_models": ("frontends", "mapper"),
    "frontends": ("mapper",),
    "mapper.chip": ("mapper.search", "mapper.app"),
    "mapper.search": ("mapper.chip", "mapper.app"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted and absolute
    name: str | None  # the name taken from it (``from target import name``), or an attribute read off it
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, source: str | None = None) -> list[Import]:
    """Every import in the file, and every ``alias._name`` read off a module bound by ``import``."""
    module = module_name(path)
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, None, node.lineno))
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, path.name == "__init__.py", node)
            found.extend(Import(module, target, alias.name, node.lineno) for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append(Import(module, aliases[node.value.id], node.attr, node.lineno))
    return found


def is_private(name: str | None) -> bool:
    return name is not None and name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


ALL = [i for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")) for i in imports_of(path)]


def test_the_scan_sees_the_packages():
    modules = {i.module for i in ALL}
    assert {"cost_models.cost", "frontends.graph", "mapper.search.cpsat", "mapper.chip.bitstream",
            "mapper.app.cli"} <= modules
    assert any(within(i.target, "mapper.search") for i in ALL if within(i.module, "mapper.app"))


def upward(imports: list[Import], floor: str) -> list[str]:
    """The imports made from ``floor`` of a package it may not use (``from mapper import app`` counts)."""
    return [f"{i.module}:{i.line} imports {i.target}" for i in imports if within(i.module, floor)
            and any(within(i.target, above) or within(f"{i.target}.{i.name}", above) for above in FORBIDDEN[floor])]


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_no_package_imports_one_above_it(floor):
    found = upward(ALL, floor)
    assert not found, "\n".join(found)


def test_an_upward_import_is_caught():
    assert upward([Import("mapper.chip.simulator", "mapper.search.cpsat", "map_layer", 3),
                   Import("cost_models.cost", "mapper", "app", 4),
                   Import("mapper.search.space", "cost_models.cost", "evaluate", 5)], "mapper.chip") == [
        "mapper.chip.simulator:3 imports mapper.search.cpsat"]
    assert upward([Import("cost_models.cost", "mapper", "app", 4)], "cost_models") == ["cost_models.cost:4 imports mapper"]


def private_imports() -> set[tuple[str, str]]:
    """(importing module, target.name) for every private name one project module takes from another.

    The standard library's and other libraries' privates are their business (argparse._SubParsersAction
    is how argparse's own documentation types ``add_subparsers``); ours are not to be shared.
    """
    return {(i.module, f"{i.target}.{i.name}") for i in ALL
            if is_private(i.name) and i.target != i.module and any(within(i.target, p) for p in PACKAGES)}


def test_no_module_imports_another_modules_private_name():
    private = sorted(private_imports())
    assert not private, "\n".join(f"{module} takes {name}" for module, name in private)


@pytest.mark.parametrize("source, expected", [
    ("from mapper.search.cpsat import map_layer", ("mapper.search.cpsat", "map_layer")),
    ("from ..search import cpsat", ("mapper.search", "cpsat")),
    ("import mapper.app.cli as cli\ncli._Parser", ("mapper.app.cli", "_Parser")),
])
def test_the_scan_reads_absolute_relative_and_attribute_imports(source, expected):
    found = imports_of(ROOT / "mapper" / "chip" / "example.py", source)
    assert expected in {(i.target, i.name) for i in found}


def test_mapper_tests_live_in_the_room_of_their_code():
    """tests/mapper/ mirrors mapper/: a test goes in search/, chip/ or app/, next to the tests of its room."""
    rooms = {p.name for p in (ROOT / "mapper").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    tests = ROOT / "tests" / "mapper"
    assert not sorted(p.name for p in tests.glob("*.py")), "tests/mapper/*.py: move them into a room"
    assert {p.name for p in tests.iterdir() if p.is_dir() and p.name != "__pycache__"} <= rooms


MAX_FUNCTION_LINES = 60  # issue 16: a function longer than this is split along its own steps


def long_functions(source: str) -> list[tuple[str, int]]:
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_function_in_the_packages_is_over_60_lines():
    found = [f"{path.relative_to(ROOT)}:{name} ({lines} lines)" for package in PACKAGES
             for path in sorted((ROOT / package).rglob("*.py")) for name, lines in long_functions(path.read_text())]
    assert not found, found


def test_a_long_function_is_caught():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def short():\n    return 1\n\n\ndef long():\n{body}\n") == [("long", MAX_FUNCTION_LINES + 1)]
