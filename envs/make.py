"""`make(id, **kwargs) -> (env, params)`: a functional env from an id, as `gymnax.make`.

Keyword arguments of `make`, `gymnasium.make(id, **kwargs)` and
`gymnasium.make_vec(id, num_envs, **kwargs)`:

- `family`: a name in `do1rl.core.families.CIRCUIT_FAMILIES`: "random" (the
  default, `RandomAlternating`), "biregular" (`LayeredBiregular`,
  docs/hard-instances.md), or one added with `register_family`;
- the family's generator keywords: its generator's fields (`CircuitFamily.keywords`;
  "random": `n_inputs`, `depth`, `width`, `max_fanin`, `prefix_chain`,
  `p_one`, `skip_prob`, `input_prob`; "biregular": `width`, `depth`, `k`,
  `stratify_d1` (bool, default True), `p_one`);
- `depths` (a list: a mixture of those circuit depths, instead of `depth`) and
  `pad_depth` (pad every circuit to the size of that depth, so envs of
  several depths share one observation shape and feature scale);
- or `circuit_files=[paths]`: a `CircuitPool` drawing uniformly from those
  `do1rl.circuit/v1` files (not combinable with generator keywords);
- `stop_action` (bool, default False);
- `max_selections` (None or an integer >= 1; 1 = one-shot: the episode ends at
  the first selection or STOP);
- DO1 only: `chain_length` (None or 0 = k uniform in 1..max_depth, k >= 1 fixed),
  `chain_scale` ("max", the default, or "circuit": random k uniform in 1..d(C));
- `render_mode` (Gymnasium only): None, "ansi" or "rgb_array".

Anything else raises `EnvArgumentError` (a TypeError and a ValueError)
naming the bad key and listing the valid ones. Sizes are bounded by the
circuit limits of `do1rl.core.limits` (nodes, fan-in, padded fan-in table,
files per pool), checked before anything is allocated.
"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any

from do1rl.core import checks, limits
from do1rl.core.checks import is_integer
from do1rl.core.families import CIRCUIT_FAMILIES, DEFAULT_FAMILY, family_flags, family_keywords
from do1rl.registration import ALTERNATING_ID, DO1_ID

if TYPE_CHECKING:  # `make` imports the env classes (and JAX) when called
    from do1rl.envs import Env
    from do1rl.envs.types import EnvParams

ENV_IDS = (DO1_ID, ALTERNATING_ID)
# Short names accepted by `make` (e.g. from the command line).
ALIASES = {"DO1": DO1_ID, "DO1-v0": DO1_ID, "AlternatingCircuit": ALTERNATING_ID, "AlternatingCircuit-v0": ALTERNATING_ID}

# The keywords of each id besides the families' generator keywords.
_COMMON = ("family", "depths", "pad_depth", "circuit_files", "stop_action", "max_selections")
ENV_KWARGS = {DO1_ID: _COMMON + ("chain_length", "chain_scale"), ALTERNATING_ID: _COMMON}


def valid_kwargs(env_id: str) -> tuple[str, ...]:
    """Every keyword `make(env_id, ...)` accepts: the registered families' and the env's own."""
    return family_keywords() + ENV_KWARGS[env_id]


# Gymnasium re-raises a TypeError from an entry point as `type(e)(f"{e} was raised from the environment creator
# for {id} with kwargs ({kwargs})")`: every keyword echoed whole (gymnasium/envs/registration.py, `make`).
_GYMNASIUM_ECHO = " was raised from the environment creator for "
MAX_ECHO = 200  # characters of gymnasium's kwargs echo that an EnvArgumentError keeps
MAX_MESSAGE = 2000  # characters of any EnvArgumentError message


class EnvArgumentError(TypeError, ValueError):
    """A bad environment id or keyword argument (message says which and why).

    A TypeError so that SB3's `make_vec_env` retries without `render_mode`;
    Gymnasium therefore wraps it, echoing every keyword the user passed
    (`depth="x" * 10**6` would come back a megabyte long). Gymnasium builds
    the wrapper with this class, so the constructor cuts that echo to
    `MAX_ECHO` characters on one line; our own reason, before it, is bounded
    where it is raised (`limits.show`).
    """

    def __init__(self, message: object = "", *args: object):
        text = str(message)
        head, echo, tail = text.partition(_GYMNASIUM_ECHO)
        if echo:
            text = head + echo + " ".join(limits.cut(tail, MAX_ECHO).split())
        super().__init__(limits.cut(text, MAX_MESSAGE), *args)


def canonical_id(env_id: str) -> str:
    """The registered id for `env_id` or one of its `ALIASES`."""
    if env_id in ENV_IDS:
        return env_id
    if env_id in ALIASES:
        return ALIASES[env_id]
    raise EnvArgumentError(f"unknown environment {limits.show(env_id)}; valid ids: {', '.join(ENV_IDS)}")


def _check_values(env_id: str, kwargs: dict[str, Any]) -> None:
    for key in (*checks.INT_MINIMUM, *checks.PROBABILITIES):
        if key in kwargs:
            value = kwargs[key]
            if key in checks.PROBABILITIES and not isinstance(value, (bool, int, float)):  # no arrays from configs
                raise EnvArgumentError(f"{env_id}: {key} must be a probability in [0, 1], got {limits.show(value)}")
            problem = checks.argument_problem(key, value)
            if problem:
                raise EnvArgumentError(f"{env_id}: {problem}")
    for key in ("stop_action", *family_flags()):
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise EnvArgumentError(f"{env_id}: {key} must be true or false, got {limits.show(kwargs[key])}")
    family = kwargs.get("family", DEFAULT_FAMILY)
    if not isinstance(family, str) or family not in CIRCUIT_FAMILIES:
        raise EnvArgumentError(f"{env_id}: family must be one of {', '.join(CIRCUIT_FAMILIES)}, got {limits.show(family)}")
    allowed = CIRCUIT_FAMILIES[family].keywords
    wrong = sorted(k for k in kwargs if k in family_keywords() and k not in allowed)
    if wrong:
        raise EnvArgumentError(
            f"{env_id}: family {family!r} does not take {', '.join(map(repr, wrong))}; its keywords are: {', '.join(allowed)}"
        )
    if "depth" not in allowed and ("depths" in kwargs or "pad_depth" in kwargs):
        raise EnvArgumentError(f"{env_id}: family {family!r} has no depth, so it takes neither depths nor pad_depth")
    _check_depths(env_id, kwargs)
    selections = kwargs.get("max_selections")
    if selections is not None and (not is_integer(selections) or not 1 <= selections <= limits.MAX_NODES):
        raise EnvArgumentError(
            f"{env_id}: max_selections must be None or an integer in 1..{limits.MAX_NODES}, got {limits.show(selections)}"
        )
    from do1rl.envs.do1 import CHAIN_SCALES  # the env's own rule (importing it loads JAX, as `make` does anyway)

    if kwargs.get("chain_scale", "max") not in CHAIN_SCALES:
        raise EnvArgumentError(f"{env_id}: chain_scale must be {' or '.join(CHAIN_SCALES)}, got {limits.show(kwargs['chain_scale'])}")
    length = kwargs.get("chain_length")
    if length is not None and (not is_integer(length) or not 0 <= length <= limits.MAX_NODES):
        raise EnvArgumentError(
            f"{env_id}: chain_length must be None, 0 (random) or an integer in 1..{limits.MAX_NODES}, got {limits.show(length)}"
        )
    files = kwargs.get("circuit_files")
    if files is not None and not isinstance(files, (str, PathLike)):
        if not isinstance(files, (list, tuple)) or not files or not all(isinstance(f, (str, PathLike)) for f in files):
            raise EnvArgumentError(f"{env_id}: circuit_files must be a path or a non-empty list of paths, got {limits.show(files)}")
        if len(files) > limits.MAX_CIRCUIT_FILES:
            raise EnvArgumentError(f"{env_id}: circuit_files: {len(files)} files, more than the limit of {limits.MAX_CIRCUIT_FILES}")


def _check_depths(env_id: str, kwargs: dict[str, Any]) -> None:
    depths = kwargs.get("depths")
    if depths is not None:
        if (
            not isinstance(depths, (list, tuple))
            or not 1 <= len(depths) <= 64
            or not all(is_integer(d) and 1 <= d <= limits.MAX_NODES for d in depths)
        ):
            raise EnvArgumentError(f"{env_id}: depths must be a non-empty list (at most 64) of integers >= 1, got {limits.show(depths)}")
        if "depth" in kwargs:
            raise EnvArgumentError(f"{env_id}: give depth (one depth) or depths (a mixture), not both")
    pad = kwargs.get("pad_depth")
    if pad is not None:
        deepest = max(depths) if depths else kwargs.get("depth")
        if deepest is not None and pad < deepest:
            raise EnvArgumentError(f"{env_id}: pad_depth must be an integer >= the deepest circuit depth ({deepest}), got {pad!r}")


def _check_size(env_id: str, what: str, num_nodes: int, fanin_slots: int, count: int = 1) -> None:
    """EnvArgumentError if circuits of this shape would pass the node or padded fan-in limits."""
    if num_nodes > limits.MAX_NODES:
        raise EnvArgumentError(f"{env_id}: {what}: {num_nodes} nodes, more than the limit of {limits.MAX_NODES}")
    if count * num_nodes * fanin_slots > limits.MAX_PADDED_SLOTS:
        raise EnvArgumentError(
            f"{env_id}: {what}: {count} x {num_nodes} nodes x fan-in {fanin_slots} padded fan-in slots, "
            f"more than the limit of {limits.MAX_PADDED_SLOTS}"
        )


def _pool(env_id: str, files):
    """The `CircuitPool` of circuit files, refused past the padded-size limit before it is built."""
    from do1rl.core import circuit_file
    from do1rl.envs.instances import pool_from_circuits

    paths = [files] if isinstance(files, (str, PathLike)) else list(files)
    parsed = [circuit_file.read(p) for p in paths]
    nodes = max(p.num_inputs + p.num_gates for p in parsed)
    fanin = max(len(f) for p in parsed for f in p.fanins)
    _check_size(env_id, "circuit_files", nodes, fanin, count=len(parsed))
    return pool_from_circuits([p.to_circuit()[0] for p in parsed])


def _generator(env_id: str, family: str, kwargs: dict[str, Any]) -> Any:
    """The family's generator; with `depths` a mixture of those depths, with `pad_depth` padded to that depth's size."""
    from do1rl.core.mixtures import Mixture
    from do1rl.envs.core import generator_shape

    build = CIRCUIT_FAMILIES[family].build
    depths = kwargs.pop("depths", None)
    pad_depth = kwargs.pop("pad_depth", None)
    try:  # a generator's own refusal (e.g. stratified tables past their size limit) is an argument error
        largest = build(**{**kwargs, "depth": int(pad_depth)}) if pad_depth is not None else None
        parts = [build(**kwargs, depth=int(d)) for d in depths] if depths else [build(**kwargs)]
    except EnvArgumentError:
        raise
    except ValueError as err:
        raise EnvArgumentError(f"{env_id}: {err}") from None
    for part in [*parts, largest] if largest is not None else parts:
        _check_size(env_id, "generated circuits", part.num_nodes, 1)  # before tracing anything
        _check_size(env_id, "generated circuits", *generator_shape(part))
    if depths is None and pad_depth is None:
        return parts[0]
    return Mixture.of(parts, **(Mixture.sizes_of(largest) if largest is not None else {}))


def make(env_id: str, **kwargs: Any) -> tuple[Env, EnvParams]:
    """(functional env, its default EnvParams) for a registered id and keywords.

    Accepts the registered ids and the short names in `ALIASES`. Raises
    `EnvArgumentError` for an unknown id or keyword or a bad value, and
    `do1rl.core.circuit_file.CircuitFileError` for a bad circuit file.
    """
    env_id = canonical_id(env_id)
    valid = valid_kwargs(env_id)
    unknown = sorted(limits.show(k, 40) for k in kwargs if k not in valid)
    if unknown:
        raise EnvArgumentError(
            f"{env_id}: unknown keyword argument(s) {limits.cut(', '.join(unknown), 200)}; valid keywords are: {', '.join(valid)}"
        )
    _check_values(env_id, kwargs)
    from do1rl.envs.alternating import AlternatingCircuit
    from do1rl.envs.do1 import DO1

    kwargs = dict(kwargs)
    family = kwargs.pop("family", DEFAULT_FAMILY)
    stop_action = bool(kwargs.pop("stop_action", False))
    max_selections = kwargs.pop("max_selections", None)
    max_selections = None if max_selections is None else int(max_selections)
    chain_length = kwargs.pop("chain_length", None)
    chain_scale = kwargs.pop("chain_scale", "max")
    files = kwargs.pop("circuit_files", None)
    if files is not None:
        if kwargs:
            raise EnvArgumentError(f"{env_id}: circuit_files cannot be combined with generator keywords {sorted(kwargs)}")
        generator = _pool(env_id, files)
    else:
        generator = _generator(env_id, family, kwargs)
    env: Env
    if env_id == DO1_ID:
        length = None if chain_length is None else int(chain_length)
        env = DO1(generator, stop_action=stop_action, chain_length=length, chain_scale=chain_scale, max_selections=max_selections)
    else:
        env = AlternatingCircuit(generator, stop_action=stop_action, max_selections=max_selections)
    _check_size(env_id, "observation", env.num_nodes, env.fanin_slots)
    return env, env.default_params
