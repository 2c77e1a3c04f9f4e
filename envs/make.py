"""`make(id, **kwargs) -> (env, params)`: a functional env from an id, as `gymnax.make`.

Keyword arguments of `make`, `gymnasium.make(id, **kwargs)` and
`gymnasium.make_vec(id, num_envs, **kwargs)`:

- `family`: "random" (the default, `RandomAlternating`) or "biregular"
  (`LayeredBiregular`, docs/hard-instances.md);
- generator keywords of "random" (see `RandomAlternating`): `n_inputs`,
  `depth`, `width`, `max_fanin`, `skip_prob`, `p_one`, `input_prob`,
  `prefix_chain`; of "biregular": `depth`, `width`, `k`, `p_one`,
  `stratify_d1` (bool, default True);
- or `circuit_files=[paths]`: a `CircuitPool` drawing uniformly from those
  `do1rl.circuit/v1` files (not combinable with generator keywords);
- `stop_action` (bool, default False);
- `max_selections` (None or an integer >= 1; 1 = one-shot: the episode ends at
  the first selection or STOP);
- `depths` (a list: a mixture of those circuit depths, instead of `depth`) and
  `pad_depth` (pad every circuit to the size of that depth, so envs of
  several depths share one observation shape and feature scale);
- DO1 only: `chain_length` (None or 0 = k uniform in 1..max_depth, k >= 1 fixed),
  `chain_scale` ("max", the default, or "circuit": random k uniform in 1..d(C));
- `render_mode` (Gymnasium only; must be None).

Anything else raises `EnvArgumentError` (a TypeError and a ValueError)
naming the bad key and listing the valid ones.
"""

from __future__ import annotations

from typing import Any

from do1rl.core.checks import is_integer
from do1rl.registration import ALTERNATING_ID, DO1_ID

ENV_IDS = (DO1_ID, ALTERNATING_ID)
# Short names accepted by `make` (e.g. from the command line).
ALIASES = {"DO1": DO1_ID, "DO1-v0": DO1_ID, "AlternatingCircuit": ALTERNATING_ID,
           "AlternatingCircuit-v0": ALTERNATING_ID}

GENERATOR_KWARGS = ("n_inputs", "depth", "width", "max_fanin", "skip_prob", "p_one", "input_prob", "prefix_chain")
BIREGULAR_KWARGS = ("depth", "width", "k", "p_one", "stratify_d1")
FAMILIES = ("random", "biregular")
_COMMON = ("family", "k", "stratify_d1", "depths", "pad_depth", "circuit_files", "stop_action", "max_selections")
VALID_KWARGS = {
    DO1_ID: GENERATOR_KWARGS + _COMMON + ("chain_length", "chain_scale"),
    ALTERNATING_ID: GENERATOR_KWARGS + _COMMON,
}
_INT_MINIMUM = {"n_inputs": 1, "depth": 1, "width": 1, "max_fanin": 2, "prefix_chain": 0, "k": 1}
_PROBABILITIES = ("skip_prob", "p_one", "input_prob")


class EnvArgumentError(TypeError, ValueError):
    """A bad environment id or keyword argument (message says which and why)."""


def canonical_id(env_id: str) -> str:
    """The registered id for `env_id` or one of its `ALIASES`."""
    if env_id in ENV_IDS:
        return env_id
    if env_id in ALIASES:
        return ALIASES[env_id]
    raise EnvArgumentError(f"unknown environment {env_id!r}; valid ids: {', '.join(ENV_IDS)}")


def _check_values(env_id: str, kwargs: dict[str, Any]) -> None:
    for key, minimum in _INT_MINIMUM.items():
        if key in kwargs and (not is_integer(kwargs[key]) or int(kwargs[key]) < minimum):
            raise EnvArgumentError(f"{env_id}: {key} must be an integer >= {minimum}, got {kwargs[key]!r}")
    for key in _PROBABILITIES:
        if key in kwargs:
            value = kwargs[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise EnvArgumentError(f"{env_id}: {key} must be a probability in [0, 1], got {value!r}")
    for key in ("stop_action", "stratify_d1"):
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise EnvArgumentError(f"{env_id}: {key} must be true or false, got {kwargs[key]!r}")
    family = kwargs.get("family", "random")
    if family not in FAMILIES:
        raise EnvArgumentError(f"{env_id}: family must be one of {', '.join(FAMILIES)}, got {family!r}")
    allowed = BIREGULAR_KWARGS if family == "biregular" else GENERATOR_KWARGS
    wrong = sorted(k for k in kwargs if k in GENERATOR_KWARGS + BIREGULAR_KWARGS and k not in allowed)
    if wrong:
        raise EnvArgumentError(
            f"{env_id}: family {family!r} does not take {', '.join(map(repr, wrong))}; "
            f"its keywords are: {', '.join(allowed)}"
        )
    depths = kwargs.get("depths")
    if depths is not None:
        if not isinstance(depths, (list, tuple)) or not depths or not all(is_integer(d) and d >= 1 for d in depths):
            raise EnvArgumentError(f"{env_id}: depths must be a non-empty list of integers >= 1, got {depths!r}")
        if "depth" in kwargs:
            raise EnvArgumentError(f"{env_id}: give depth (one depth) or depths (a mixture), not both")
    pad = kwargs.get("pad_depth")
    if pad is not None:
        deepest = max(depths) if depths else kwargs.get("depth")
        if not is_integer(pad) or pad < 1 or (deepest is not None and pad < deepest):
            raise EnvArgumentError(
                f"{env_id}: pad_depth must be an integer >= the deepest circuit depth ({deepest}), got {pad!r}"
            )
    selections = kwargs.get("max_selections")
    if selections is not None and (not is_integer(selections) or int(selections) < 1):
        raise EnvArgumentError(f"{env_id}: max_selections must be None or an integer >= 1, got {selections!r}")
    if kwargs.get("chain_scale", "max") not in ("max", "circuit"):
        raise EnvArgumentError(f"{env_id}: chain_scale must be max or circuit, got {kwargs['chain_scale']!r}")
    length = kwargs.get("chain_length")
    if length is not None and (not is_integer(length) or int(length) < 0):
        raise EnvArgumentError(
            f"{env_id}: chain_length must be None, 0 (random) or an integer >= 1, got {length!r}"
        )


def make(env_id: str, **kwargs: Any):
    """(functional env, its default EnvParams) for a registered id and keywords.

    Accepts the registered ids and the short names in `ALIASES`. Raises
    `EnvArgumentError` for an unknown id or keyword or a bad value, and
    `do1rl.core.circuit_file.CircuitFileError` for a bad circuit file.
    """
    env_id = canonical_id(env_id)
    valid = VALID_KWARGS[env_id]
    unknown = sorted(k for k in kwargs if k not in valid)
    if unknown:
        raise EnvArgumentError(
            f"{env_id}: unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"valid keywords are: {', '.join(valid)}"
        )
    _check_values(env_id, kwargs)
    from do1rl.core.generators import RandomAlternating
    from do1rl.envs.alternating import AlternatingCircuit
    from do1rl.envs.do1 import DO1

    kwargs = dict(kwargs)
    family = kwargs.pop("family", "random")
    stop_action = bool(kwargs.pop("stop_action", False))
    max_selections = kwargs.pop("max_selections", None)
    max_selections = None if max_selections is None else int(max_selections)
    chain_length = kwargs.pop("chain_length", None)
    chain_scale = kwargs.pop("chain_scale", "max")
    files = kwargs.pop("circuit_files", None)
    if files is not None:
        if kwargs:
            raise EnvArgumentError(
                f"{env_id}: circuit_files cannot be combined with generator keywords {sorted(kwargs)}"
            )
        from do1rl.envs.instances import pool_from_files

        generator = pool_from_files(files)
    else:
        from do1rl.core.biregular import LayeredBiregular

        generator = _generator(LayeredBiregular if family == "biregular" else RandomAlternating, kwargs)
    if env_id == DO1_ID:
        length = None if chain_length is None else int(chain_length)
        env = DO1(
            generator, stop_action=stop_action, chain_length=length, chain_scale=chain_scale, max_selections=max_selections
        )
    else:
        env = AlternatingCircuit(generator, stop_action=stop_action, max_selections=max_selections)
    return env, env.default_params


def _generator(family: Any, kwargs: dict[str, Any]) -> Any:
    """The family's generator; with `depths` a mixture of those depths, with `pad_depth` padded to that depth's size."""
    depths = kwargs.pop("depths", None)
    pad_depth = kwargs.pop("pad_depth", None)
    if depths is None and pad_depth is None:
        return family(**kwargs)
    from do1rl.core.mixtures import Mixture

    parts = [family(**kwargs, depth=int(d)) for d in depths] if depths else [family(**kwargs)]
    if pad_depth is None:
        return Mixture.of(parts)
    widest = family(**{**kwargs, "depth": int(pad_depth)})
    return Mixture.of(parts, **Mixture.sizes_of(widest))
