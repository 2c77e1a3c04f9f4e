"""The package's layers import only downwards: core -> envs -> agents -> evaluation -> experiments -> CLI.

Each check imports modules in a fresh interpreter and looks at what got loaded.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import do1rl
import do1rl.agents
import do1rl.envs

# Layer of each module prefix, lowest first. `do1rl.testing` is a user-facing
# entry point built on the agent registry, so it sits with the experiments.
LAYERS = [
    ("core", ("do1rl.registration", "do1rl.sharding", "do1rl.core")),
    ("envs", ("do1rl.envs",)),
    ("agents", ("do1rl.agents",)),
    ("evaluation", ("do1rl.evaluation",)),
    ("experiments", ("do1rl.experiments", "do1rl.testing")),
    ("cli", ("do1rl.cli", "do1rl.__main__")),
]


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def all_modules() -> list[str]:
    names = ["do1rl.registration", "do1rl.sharding", "do1rl.testing"]
    for package in (do1rl, do1rl.envs, do1rl.agents):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            names.append(info.name)
    return sorted(set(n for n in names if n != "do1rl.__main__"))


def loaded_after(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'do1rl' or m.startswith('do1rl.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_module_has_a_layer():
    assert [m for m in all_modules() if layer_of(m) is None and m != "do1rl"] == []


@pytest.mark.parametrize("rank", range(len(LAYERS) - 1), ids=[name for name, _ in LAYERS[:-1]])
def test_layer_imports_nothing_above_it(rank):
    mine = [m for m in all_modules() if layer_of(m) == rank]
    assert mine
    above = [m for m in loaded_after(mine) if (layer_of(m) or 0) > rank]
    assert above == [], f"{LAYERS[rank][0]} loads higher layers: {above}"


def test_import_do1rl_is_light_and_registers():
    code = (
        "import sys, do1rl, gymnasium\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'optax', 'mctx') or m.startswith('do1rl.envs')]\n"
        "assert not heavy, heavy\n"
        "assert 'do1rl/DO1-v0' in gymnasium.registry and 'do1rl/AlternatingCircuit-v0' in gymnasium.registry\n"
        "assert do1rl.Circuit.__name__ == 'Circuit'  # public names load on first use\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("package", ["do1rl", "do1rl.core", "do1rl.envs", "do1rl.agents", "do1rl.evaluation"])
def test_public_surface_is_declared(package):
    module = __import__(package, fromlist=["__all__"])
    assert module.__all__ and all(hasattr(module, name) for name in module.__all__)


def test_lazy_names_are_the_declared_surface():
    assert do1rl.__all__ == sorted(do1rl._LAZY)  # a literal list (for type checkers), kept equal to the lazy table
