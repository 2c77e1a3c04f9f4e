"""The configs and example circuits that ship inside the package (`do1rl.configs`, `do1rl.examples`).

In a checkout these are the repository's `configs/` and `examples/` folders;
in a wheel they are package data, so `do1rl train --config NAME` works
without the repository.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from do1rl.core import limits
from do1rl.experiments.config import ConfigError, read_yaml

DEFAULT_TRAIN_CONFIG = "ppo_alternating_small"  # what `do1rl train` trains without --config (the quickstart's)


def _files(package: str, suffix: str) -> dict[str, Path]:
    root = resources.files(package)
    paths = (Path(str(p)) for p in root.iterdir() if p.name.endswith(suffix))
    return {p.name.removesuffix(suffix): p for p in sorted(paths, key=lambda p: p.name)}


def shipped_configs() -> dict[str, Path]:
    """Name (the file's stem) -> path of every shipped YAML config, sorted by name."""
    return _files("do1rl.configs", ".yaml")


def example_circuits() -> dict[str, Path]:
    """Name -> path of every shipped example circuit file (JSON, docs/spec.md)."""
    return _files("do1rl.examples", ".json")


def describe(path: Path, width: int = 100) -> str:
    """A config's one-line description: its leading comment block, cut at `width` characters."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words += line.lstrip("#").split()
    text = " ".join(words)
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def kind(path: Path) -> str:
    """ "sweep" for a sweep config (it has a `grid`), else "train"."""
    return "sweep" if "grid" in read_yaml(path) else "train"


def find_config(value: str | Path) -> Path:
    """The file `value` if it exists, else the shipped config named `value` (".yaml" optional).

    ConfigError (one line) if neither exists.
    """
    path = Path(value)
    try:
        if path.exists():
            return path
    except (OSError, ValueError) as err:  # a name too long for the OS, a NUL byte
        raise ConfigError(f"{limits.cut(str(value), 200)}: not a usable path ({getattr(err, 'strerror', None) or err})") from None
    name = path.name.removesuffix(".yaml")
    if path.parent not in (Path("."), Path("configs")):  # a path elsewhere is never a shipped name
        raise ConfigError(f"{limits.cut(str(value), 200)}: no such file")
    shipped = shipped_configs()
    if name in shipped:  # a bare name, or configs/NAME outside a checkout
        return shipped[name]
    raise ConfigError(f"{limits.cut(str(value), 200)}: no such file, and no shipped config is named {name!r} (do1rl config list)")
