"""The layout of helpers/ and how notebooks use it, read from the source (no imports run).

The layer table in helpers/__init__.py's docstring is the one statement of the layout; these
tests read it and fail when a module imports from its own layer or a higher one, imports a
private name of another module, imports a helpers module inside a function, is missing from the
table, or when a notebook imports helpers in any style but ``import helpers.<module>``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "helpers"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHARED_PRIVATE = {"_checks"}  # the package's one private module, meant for every module


def layer_table() -> dict[str, int]:
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    rows = re.findall(r"^(\d+)\s+``(\w+)``", doc or "", flags=re.MULTILINE)
    return {module: int(layer) for layer, module in rows}


def helpers_imports(tree: ast.Module) -> list[tuple[ast.stmt, str, list[str]]]:
    """(statement, helpers module imported from, names imported) for every import of helpers."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "helpers":
                for alias in node.names:  # from helpers import vae -> the module vae itself
                    found.append((node, alias.name, []))
            elif node.module.startswith("helpers."):
                found.append((node, node.module.split(".")[1], [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("helpers."):
                    found.append((node, alias.name.split(".")[1], []))
    return found


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_every_module_has_a_layer():
    table = layer_table()
    assert set(table) == set(MODULES), (
        f"helpers/__init__.py's map and the modules on disk differ: map only {set(table) - set(MODULES)}, "
        f"disk only {set(MODULES) - set(table)}"
    )


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down_and_never_at_private_names(module):
    table = layer_table()
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    top_level = set(map(id, tree.body))
    problems = []
    for node, target, names in helpers_imports(tree):
        where = f"helpers/{module}.py:{node.lineno}"
        if id(node) not in top_level:
            problems.append(f"{where} imports helpers.{target} inside a function or block")
        if target not in table:
            problems.append(f"{where} imports unknown module helpers.{target}")
            continue
        if target.startswith("_") and target not in SHARED_PRIVATE:
            problems.append(f"{where} imports the private module helpers.{target}")
        if target != "_checks" and table[target] >= table[module]:
            problems.append(
                f"{where} imports helpers.{target} (layer {table[target]}) into layer {table[module]}"
            )
        private = [name for name in names if name.startswith("_")]
        if private:
            problems.append(f"{where} imports private names {private} from helpers.{target}")
    # attribute access such as data._check_probabilities on an imported helpers module
    aliases = {
        alias.asname or alias.name
        for node, _, _ in helpers_imports(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "helpers"
        for alias in node.names
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.value.id not in SHARED_PRIVATE
            and node.attr.startswith("_")
        ):
            problems.append(f"helpers/{module}.py:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not problems, "\n".join(problems)


def test_the_layer_test_catches_what_it_should(tmp_path):
    """The checks above on made-up sources: an upward import and a private import are caught."""
    upward = ast.parse("from helpers.recipes import VAE_32D\n")
    private = ast.parse("from helpers.data import _check_probabilities\n")
    nested = ast.parse("def f():\n    from helpers.data import load_mnist\n")
    table = layer_table()
    assert table["recipes"] > table["vae"]
    (node, target, names), = helpers_imports(upward)
    assert target == "recipes" and table[target] >= table["vae"]
    (_, _, names), = helpers_imports(private)
    assert names == ["_check_probabilities"]
    (node, _, _), = helpers_imports(nested)
    assert id(node) not in set(map(id, nested.body))


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_helpers_one_way_and_every_module_they_use(path):
    code = notebook_code(path)
    tree = ast.parse(code)
    imported, problems = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            problems.append(f"line {node.lineno}: 'from {node.module} import ...' (use import helpers.<module>)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "helpers":
                    if alias.asname:
                        problems.append(f"line {node.lineno}: 'import {alias.name} as {alias.asname}'")
                    elif alias.name == "helpers":
                        problems.append(f"line {node.lineno}: bare 'import helpers' (import the modules)")
                    else:
                        imported.add(alias.name.split(".")[1])
    used = set(re.findall(r"\bhelpers\.([a-z_]+)\.", code))
    missing = used - imported
    if missing:
        problems.append(f"uses helpers.{sorted(missing)} without importing them")
    unused = imported - used
    if unused:
        problems.append(f"imports helpers.{sorted(unused)} without using them")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_readme_map_agrees_with_the_package_map():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", readme, flags=re.MULTILINE)
    public = {module: layer for module, layer in layer_table().items() if not module.startswith("_")}
    assert {module: int(layer) for layer, module in rows} == public
