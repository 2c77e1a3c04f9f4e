"""The wheel holds every package: pyproject's explicit package list matches the source tree; do1rl is typed."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir = setuptools["package-dir"]
    tree = set()
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in parts:
                tree.add(".".join((name, *parts)))
    assert set(setuptools["packages"]) == tree


def test_every_module_folder_is_a_package():
    for folder in ("do1rl", "envs", "agents"):
        for path in (ROOT / folder).rglob("*.py"):
            assert (path.parent / "__init__.py").exists(), f"{path.parent} holds modules but no __init__.py"


def test_the_package_is_marked_typed():
    # PEP 561: py.typed tells type checkers to read do1rl's annotations; package data puts it in the wheel
    # (tests/test_wheel.py looks for it there), and the installed package has it.
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["do1rl"]
    assert (ROOT / "do1rl" / "py.typed").is_file()
    assert resources.files("do1rl").joinpath("py.typed").is_file()
