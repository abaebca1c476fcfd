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
    """(statement, helpers module imported from, names imported) for every import of helpers.

    ``import helpers`` alone and relative imports come back with the module name "" and ".",
    so the rules below can reject them.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level > 0:
                found.append((node, ".", [a.name for a in node.names]))
            elif node.module == "helpers":
                for alias in node.names:  # from helpers import vae -> the module vae itself
                    found.append((node, alias.name, []))
            elif node.module and node.module.startswith("helpers."):
                found.append((node, node.module.split(".")[1], [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "helpers":
                    found.append((node, "", []))
                elif alias.name.startswith("helpers."):
                    found.append((node, alias.name.split(".")[1], []))
    return found


def private_attribute_uses(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) for every ``alias._name`` on a module imported with ``from helpers import
    alias`` and every ``helpers.module._name`` chain (the shared ``_checks`` module aside)."""
    aliases = {
        alias.asname or alias.name
        for node, _, _ in helpers_imports(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "helpers"
        for alias in node.names
    }
    uses = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in aliases and owner.id not in SHARED_PRIVATE:
            uses.append((node.lineno, f"{owner.id}.{node.attr}"))
        elif (
            isinstance(owner, ast.Attribute)
            and isinstance(owner.value, ast.Name)
            and owner.value.id == "helpers"
            and owner.attr not in SHARED_PRIVATE
        ):
            uses.append((node.lineno, f"helpers.{owner.attr}.{node.attr}"))
    return uses


def problems(module: str, source: str, table: dict[str, int]) -> list[str]:
    """Every way ``source``, the text of helpers/<module>.py, breaks the layout."""
    tree = ast.parse(source)
    top_level = set(map(id, tree.body))
    found = []
    for node, target, names in helpers_imports(tree):
        where = f"helpers/{module}.py:{node.lineno}"
        if target == ".":
            found.append(f"{where} uses a relative import (write from helpers.<module> import ...)")
            continue
        if target == "":
            found.append(f"{where} imports the package itself (import the module it needs)")
            continue
        if id(node) not in top_level:
            found.append(f"{where} imports helpers.{target} inside a function or block")
        if target not in table:
            found.append(f"{where} imports unknown module helpers.{target}")
            continue
        if target.startswith("_") and target not in SHARED_PRIVATE:
            found.append(f"{where} imports the private module helpers.{target}")
        if target not in SHARED_PRIVATE and table[target] >= table[module]:
            found.append(
                f"{where} imports helpers.{target} (layer {table[target]}) into layer {table[module]}"
            )
        private = [name for name in names if name.startswith("_")]
        if private:
            found.append(f"{where} imports private names {private} from helpers.{target}")
    for line, text in private_attribute_uses(tree):
        found.append(f"helpers/{module}.py:{line} uses the private name {text}")
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
    found = problems(module, (PACKAGE / f"{module}.py").read_text(), layer_table())
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source,expected",
    [
        ("from helpers.recipes import VAE_32D\n", "into layer"),  # upward
        ("from helpers.vi import gaussian_kl\n", "into layer"),  # models and vi share layer 3
        ("from helpers.data import _check_probabilities\n", "private names"),
        ("def f():\n    from helpers.data import load_mnist\n", "inside a function"),
        ("from . import data\n", "relative import"),
        ("import helpers\nx = helpers.recipes.VAE_32D\n", "the package itself"),
        ("import helpers.data\nx = helpers.data._cache_folder\n", "private name helpers.data._cache_folder"),
        ("from helpers import data\nx = data._notice\n", "private name data._notice"),
        ("from helpers import gmm\n", "into layer"),  # gmm is vae's own layer
    ],
)
def test_the_rules_catch_what_they_should(source, expected):
    table = layer_table()
    module = "vae" if "gmm" in source or "recipes" in source else "models"
    found = problems(module, source, table)
    assert any(expected in line for line in found), found


def test_the_rules_pass_a_clean_module():
    source = "from helpers import _checks\nfrom helpers.models import mlp\nx = _checks.positive_int\n"
    assert problems("vae", source, layer_table()) == []


def top_level_definitions(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_helpers_one_way_and_every_module_they_use(path):
    code = notebook_code(path)
    tree = ast.parse(code)
    imported, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            found.append(f"line {node.lineno}: 'from {node.module} import ...' (use import helpers.<module>)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "helpers":
                    if alias.asname:
                        found.append(f"line {node.lineno}: 'import {alias.name} as {alias.asname}'")
                    elif alias.name == "helpers":
                        found.append(f"line {node.lineno}: bare 'import helpers' (import the modules)")
                    else:
                        imported.add(alias.name.split(".")[1])
    used = set(re.findall(r"\bhelpers\.([a-z_]+)\.", code))
    missing = used - imported
    if missing:
        found.append(f"uses helpers.{sorted(missing)} without importing them")
    unused = imported - used
    if unused:
        found.append(f"imports helpers.{sorted(unused)} without using them")
    for module, name in sorted(set(re.findall(r"\bhelpers\.([a-z_]+)\.([A-Za-z_]\w*)", code))):
        if module in imported and name not in top_level_definitions(module):
            found.append(f"calls helpers.{module}.{name}, which helpers/{module}.py does not define")
    assert not found, f"{path.name}:\n" + "\n".join(found)


def test_the_readme_map_agrees_with_the_package_map():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", readme, flags=re.MULTILINE)
    public = {module: layer for module, layer in layer_table().items() if not module.startswith("_")}
    assert {module: int(layer) for layer, module in rows} == public
