"""The two dependency lists (pyproject.toml and environment.yml) pin the same versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement.strip())
        assert match, f"pyproject.toml: {requirement!r} is not an exact '==' pin"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def environment_pins() -> dict[str, str]:
    pins = {}
    in_pip = False
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if re.match(r"^\s*-\s*pip:\s*$", line):
            in_pip = True
            continue
        item = re.match(r"^\s*-\s*(\S.*)$", line)
        if in_pip and item:
            entry = item.group(1).strip()
            if entry.startswith("-e"):
                continue
            match = PIN.match(entry)
            assert match, f"environment.yml: {entry!r} is not an exact '==' pin"
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_environment_yml_pins_the_same_versions_as_pyproject():
    in_pyproject, in_environment = pyproject_pins(), environment_pins()
    assert in_pyproject, "no pins found in pyproject.toml"
    assert in_environment == in_pyproject, (
        f"only in pyproject: {sorted(set(in_pyproject) - set(in_environment))}; "
        f"only in environment.yml: {sorted(set(in_environment) - set(in_pyproject))}; "
        "different versions: "
        f"{sorted(n for n in in_pyproject if n in in_environment and in_pyproject[n] != in_environment[n])}"
    )


def test_environment_yml_asks_for_python_3_11():
    assert re.search(r"^\s*-\s*python=3\.11\s*$", (ROOT / "environment.yml").read_text(), re.M)


@pytest.mark.parametrize("name", sorted(pyproject_pins()))
def test_installed_versions_match_the_pins(name):
    installed = metadata.version(name).split("+")[0]
    assert installed == pyproject_pins()[name], f"{name}: installed {installed}, pinned {pyproject_pins()[name]}"
