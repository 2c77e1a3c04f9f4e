"""Every registered circuit family keeps the contract: valid alternating circuits, solved as the reference does, d1 as promised.

Parametrised over `CIRCUIT_FAMILIES` at collection, so a newly registered
family is checked with no edit here (docs/extending.md).
"""

from __future__ import annotations

import dataclasses

import gymnasium
import jax
import numpy as np
import pytest
from scipy import stats
from solver_checks import assert_matches_reference

import do1rl  # noqa: F401  (registers the Gymnasium ids)
from do1rl.core import circuit_file
from do1rl.core.families import CIRCUIT_FAMILIES, family_keywords, register_family
from do1rl.core.generators import Chains
from do1rl.core.reference import circuit_to_lists, evaluate
from do1rl.core.solver import solve
from do1rl.envs.make import EnvArgumentError, make
from do1rl.registration import ALTERNATING_ID, DO1_ID

# Small sizes for the keywords a family has of these; the rest keep their defaults.
SMALL = {"n_inputs": 3, "depth": 4, "width": 3}
REFERENCE_DRAWS, LAW_DRAWS = 30, 1000


def defaults(family) -> dict:
    """Each keyword of `family` that has a default, at that default."""
    fields = {f.name: f for f in dataclasses.fields(family.generator)}
    return {k: fields[k].default for k in family.keywords if fields[k].default is not dataclasses.MISSING}


def configs() -> list[tuple[str, dict]]:
    """(family, keywords): each family small, then with each of its flags flipped."""
    out = []
    for name, family in CIRCUIT_FAMILIES.items():
        small = {k: v for k, v in SMALL.items() if k in family.keywords}
        out.append((name, small))
        out += [(name, {**small, flag: not defaults(family)[flag]}) for flag in family.flags]
    return out


CONFIGS = configs()
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


def generator(config):
    name, kwargs = config
    return CIRCUIT_FAMILIES[name].build(**kwargs)


@pytest.fixture(scope="module", params=CONFIGS, ids=IDS)
def drawn(request):
    """(generator, circuits, their solutions), numpy, LAW_DRAWS of them."""
    gen = generator(request.param)
    keys = jax.random.split(jax.random.key(7), LAW_DRAWS)
    circuits = jax.jit(jax.vmap(gen))(keys)
    return gen, jax.device_get(circuits), jax.device_get(jax.jit(jax.vmap(solve))(circuits))


def row(batch, i):
    return jax.tree.map(lambda x: x[i], batch)


def test_circuits_are_valid_alternating_and_within_the_declared_sizes(drawn):
    gen, circuits, _ = drawn
    assert circuits.node_type.shape == (LAW_DRAWS, gen.num_nodes)
    for i in range(REFERENCE_DRAWS):
        c = row(circuits, i)
        parsed = circuit_file.parse(circuit_file.to_json(c))  # refuses broken alternation, cycles, empty fan-ins
        inputs, ops, fanins, new_id = circuit_to_lists(c.node_type, c.fanin)
        assert tuple(parsed) == (inputs, ops, fanins)
        _, depth, _ = evaluate(inputs, ops, fanins)
        assert [depth[new_id[s]] for s in sorted(new_id)] == c.depth[sorted(new_id)].tolist()  # stored depths
        assert max(depth) <= gen.max_depth and len(ops) <= gen.max_gates


def test_solver_agrees_with_the_reference(drawn):
    _, circuits, sol = drawn
    lists, node_indices = [], []
    for i in range(REFERENCE_DRAWS):
        c = row(circuits, i)
        inputs, ops, fanins, new_id = circuit_to_lists(c.node_type, c.fanin)
        lists.append((inputs, ops, fanins))
        node_indices.append(sorted(new_id, key=new_id.get))
    assert_matches_reference(sol, lists, node_indices, int(circuits.eval_width))


def test_d1_follows_the_promised_law(drawn):
    """Draws against `d1_law()` (chi-square, bins under 5 expected pooled); without a law, d1 in 0..max_depth."""
    gen, _, sol = drawn
    d1 = np.asarray(sol.d1)
    assert d1.min() >= 0 and d1.max() <= gen.max_depth
    if not hasattr(gen, "d1_law"):
        return
    law = np.asarray(gen.d1_law(), float)
    assert law.shape == (gen.max_depth + 1,) and np.isclose(law.sum(), 1.0)
    observed = np.bincount(d1, minlength=law.size)
    assert not observed[law == 0].any(), (observed, law)
    big = law * d1.size >= 5
    pooled_obs = np.append(observed[big], observed[~big].sum())
    pooled_exp = np.append(law[big], law[~big].sum()) * d1.size
    keep = pooled_exp > 0
    assert stats.chisquare(pooled_obs[keep], pooled_exp[keep]).pvalue > 1e-6, (observed, law)


@pytest.mark.parametrize("name", list(CIRCUIT_FAMILIES))
def test_make_takes_every_keyword_and_refuses_other_families(name):
    family = CIRCUIT_FAMILIES[name]
    env, _ = make(DO1_ID, family=name, **defaults(family))
    assert env.generator == family.build()
    for key in sorted(set(family_keywords()) - set(family.keywords)):
        with pytest.raises(EnvArgumentError, match=rf"family '{name}' does not take '{key}'"):
            make(DO1_ID, family=name, **{key: defaults(next(f for f in CIRCUIT_FAMILIES.values() if key in f.keywords))[key]})


@pytest.fixture
def chains_family():
    """`Chains` registered for one test as family "test-chains"."""
    family = register_family("test-chains", Chains)
    yield family
    del CIRCUIT_FAMILIES["test-chains"]


def test_a_registered_family_is_built_by_make_and_gymnasium(chains_family):
    assert chains_family.keywords == ("max_length", "length") and chains_family.flags == ()
    env, _ = make(ALTERNATING_ID, family="test-chains", max_length=5, length=3)
    assert env.generator == Chains(max_length=5, length=3)
    gym_env = gymnasium.make(ALTERNATING_ID, family="test-chains", max_length=5, length=3)
    gym_env.reset(seed=0)
    assert int(gym_env.unwrapped.optimal_value()) == 3  # a chain of 3 gates: d1 = 3
    for bad, needle in [
        (dict(depth=3), r"family 'test-chains' does not take 'depth'; its keywords are: max_length, length"),
        (dict(family="random", max_length=3), r"family 'random' does not take 'max_length'"),
        (dict(depths=[2, 3]), r"family 'test-chains' has no depth"),
    ]:
        with pytest.raises(EnvArgumentError, match=needle):
            make(ALTERNATING_ID, **{"family": "test-chains", **bad})


def test_register_family_refuses_what_make_could_not_build():
    with pytest.raises(ValueError, match="new, non-empty name"):
        register_family("random", Chains)

    class NotADataclass:
        pass

    with pytest.raises(TypeError, match="dataclass"):
        register_family("broken", NotADataclass)

    @dataclasses.dataclass
    class NoSizes:
        depth: int = 1

    with pytest.raises(TypeError, match="lacks num_nodes, max_depth, max_gates, __call__"):
        register_family("broken", NoSizes)
    assert "broken" not in CIRCUIT_FAMILIES
