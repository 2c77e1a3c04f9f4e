"""Typed configs: frozen dataclasses loaded from YAML, with dotted overrides.

    cfg = load(TrainConfig, "configs/ppo_alternating_small.yaml", ["ppo.num_envs=32"])

Every key of the YAML file and of each `key=value` override must name a
field of the dataclass (nested dataclasses are reached with dots, e.g.
`network.width=128`), and its value must have the field's type; anything
else raises `ConfigError`, one line naming the key and listing the valid
ones. Values are parsed with `yaml.safe_load`, so `x=1e-3`, `flag=true` and
`args={depth: 4}` work. A field typed `dict` holds free-form keyword
arguments that are checked elsewhere (e.g. environment options).

Hostile input is bounded (`do1rl.core.limits`): a config file is a regular
file of at most MAX_CONFIG_BYTES, a file or override expands (YAML aliases
included) to at most MAX_CONFIG_NODES values, integers fit in 64 bits,
floats must be finite, and error lines show values cut short.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import yaml

from do1rl.core import atomic, limits
from do1rl.core.checks import is_integer

T = TypeVar("T")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_show = limits.show
_cut = limits.cut


class ConfigError(ValueError):
    """A config file or override that does not fit the typed config."""


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(hint: Any) -> TypeGuard[type]:
    """Whether a field's type is a config dataclass (a nested section of dotted keys)."""
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def valid_keys(cls: type, prefix: str = "") -> list[str]:
    """Every settable dotted key of a config dataclass."""
    keys = []
    hints = _hints(cls)
    for name in _fields(cls):
        hint = hints[name]
        if _is_section(hint):
            keys += valid_keys(hint, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def key_table(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted key, type, default, rule) of every settable key of a config dataclass, in field order.

    The rule is the class's own (`RULES`, `do1rl.core.checks`), empty when it has none.
    """
    rows = []
    hints, rules = _hints(cls), getattr(cls, "RULES", {})
    defaults = dataclasses.asdict(cls())
    for name in _fields(cls):
        hint = hints[name]
        if _is_section(hint):
            rows += key_table(hint, f"{prefix}{name}.")
        else:
            default = yaml.safe_dump(to_dict_value(defaults[name]), default_flow_style=True).strip().removesuffix("...").strip()
            rows.append((prefix + name, _type_name(hint), default, str(rules.get(name, ""))))
    return rows


def key_notes(cls: type, prefix: str = "") -> list[str]:
    """The rules that tie several keys together (`NOTES` of each config class), prefixed with their section."""
    notes = [f"{prefix}{note}" if prefix else note for note in getattr(cls, "NOTES", ())]
    hints = _hints(cls)
    for name in _fields(cls):
        if _is_section(hints[name]):
            notes += key_notes(hints[name], f"{prefix}{name}: ")
    return notes


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` checked against (and, for int -> float, converted to) `hint`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        names = " or ".join("null" if o is type(None) else _type_name(o) for o in options)
        raise ConfigError(f"{key}: expected {names}, got {_show(value)}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {_show(value)}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {_show(value)}")
        for name in value:
            if not isinstance(name, str):
                raise ConfigError(f"{key}: keys must be names (strings), got {_show(name)}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_show(value)}")
        return value
    if hint is int:
        if not is_integer(value):
            raise ConfigError(f"{key}: expected an integer, got {_show(value)}")
        if not _INT64[0] <= value <= _INT64[1]:
            raise ConfigError(f"{key}: integer out of the 64-bit range, got {_show(value)}")
        return int(value)
    if hint is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads "1e-3" (no dot) as a string
        try:
            return limits.check_float(value, key)
        except limits.InputError as err:
            raise ConfigError(str(err)) from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_show(value)}")
        return value
    raise ConfigError(f"{key}: unsupported field type {hint!r}")


def from_dict(cls: type[T], data: dict, prefix: str = "") -> T:
    """Builds `cls` from a (nested) mapping, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {_show(data)}")
    fields = _fields(cls)
    hints = _hints(cls)
    unknown = sorted(_cut(k, 40) if isinstance(k, str) else _show(k, 40) for k in data if k not in fields)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {_cut(', '.join(prefix + k for k in unknown), 200)}; "
            f"valid keys: {_cut(', '.join(valid_keys(cls, prefix)), 300)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if _is_section(hint):
            kwargs[name] = from_dict(hint, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, hint, prefix + name)
    try:
        config = cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {err}") from None
    return config


def to_dict_value(x: Any) -> Any:
    """A config value as plain YAML-safe data (tuples become lists)."""
    if isinstance(x, tuple):
        return [to_dict_value(v) for v in x]
    if isinstance(x, dict):
        return {k: to_dict_value(v) for k, v in x.items()}
    return x


def to_dict(config: Any) -> dict:
    """The config as plain YAML-safe data (tuples become lists)."""
    return to_dict_value(dataclasses.asdict(config))


def parse_assignment(pair: str) -> tuple[str, Any]:
    """`"a.b=1"` -> `("a.b", 1)`: the value read as YAML (raw text if it is not YAML).

    Raises ConfigError unless `pair` is KEY=VALUE with no empty dotted part.
    """
    key, sep, raw = pair.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"{_show(pair)}: expected KEY=VALUE, e.g. ppo.num_envs=32")
    if len(pair) > limits.MAX_CONFIG_BYTES:
        raise ConfigError(f"{_show(key)}: value too long (limit {limits.MAX_CONFIG_BYTES} bytes)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return key, raw
    except ValueError as err:  # e.g. a YAML integer of more than 4300 digits
        raise ConfigError(f"{_cut(key, 60)}: {limits.describe_error(err)}") from None
    _check_size(value, _show(key))
    return key, value


def parse_overrides(pairs: list[str]) -> dict:
    """`["a.b=1", "c=true"]` -> `{"a": {"b": 1}, "c": True}` (values via `parse_assignment`)."""
    tree: dict = {}
    for pair in pairs:
        key, value = parse_assignment(pair)
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {_show(pair)}: {_show(part)} is set twice")
        if leaf in node:  # like a key given twice in a YAML mapping: "last one wins" hides typos
            raise ConfigError(f"override {_show(pair)}: {_cut(key, 60)} is set twice")
        node[leaf] = value
    return tree


def merge(base: dict, update: dict) -> dict:
    """`update` merged into a copy of `base`, recursively for nested config sections.

    A mapping-valued override replaces a mapping field (e.g. `env.args`) only
    key by key, so `env.args.depth=4` keeps the other environment options.
    """
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, mark):
        super().__init__(f"duplicate key {_cut(repr(key), 60)}")
        self.problem_mark = mark


class _UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping (YAML's "last one wins" hides typos)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark)
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader says so itself
                break
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from a file, or `ConfigError` saying what is wrong with it.

    Safe loading only (no Python objects); an empty file and a key given
    twice in one mapping are refused, since either is almost surely a mistake.
    """
    path = Path(path)
    try:
        raw = limits.read_regular(path, limits.MAX_CONFIG_BYTES, "config")
    except limits.InputError as err:
        raise ConfigError(f"{path}: {err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a yaml.SafeLoader subclass: no Python objects
    except _DuplicateKey as err:
        raise ConfigError(f"{path}: {err} (line {err.problem_mark.line + 1})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    except (ValueError, RecursionError) as err:  # e.g. a 5000-digit integer, deep nesting
        reason = "nested too deeply" if isinstance(err, RecursionError) else limits.describe_error(err)
        raise ConfigError(f"{path}: not a usable config ({reason})") from None
    if data is None or data == {}:
        raise ConfigError(f"{path}: the config is empty (every key has a default; give the ones you mean)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    _check_size(data, str(path))
    return data


def _check_size(data: Any, where: str) -> None:
    """ConfigError if `data` expands (aliases included) past `limits.MAX_CONFIG_NODES` values."""
    try:
        limits.config_size(data)
    except limits.InputError as err:
        raise ConfigError(f"{where}: {err}") from None


def load(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """`cls` from a YAML file (or defaults) plus dotted `key=value` overrides."""
    data = read_yaml(path) if path is not None else {}
    data = merge(data, parse_overrides(list(overrides)))
    return from_dict(cls, data)


def to_yaml(config: Any) -> str:
    """The config as YAML text, every key in field order."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def dump(config: Any, path: str | Path) -> None:
    """Writes the config as YAML, atomically (temp file + rename)."""
    atomic.write_text(path, to_yaml(config))
