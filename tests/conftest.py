"""Shared, session-scoped fixtures: small instances and their jitted functions.

Everything here is small (depth 3, width 3) so each jit compiles in well
under a second on CPU and the whole suite stays fast.
"""

from __future__ import annotations

from types import SimpleNamespace

import jax
import pytest

from do1rl.core.generators import RandomAlternating
from do1rl.envs import DO1, AlternatingCircuit

SMALL = dict(n_inputs=3, depth=3, width=3)


def _jitted(env):
    return SimpleNamespace(
        env=env,
        params=env.default_params,
        reset=jax.jit(env.reset),
        step=jax.jit(env.step),
        optimal_value=jax.jit(env.optimal_value),
        batch_reset=jax.jit(jax.vmap(env.reset, in_axes=(0, None))),
    )


@pytest.fixture(scope="session")
def small_generator():
    return RandomAlternating(**SMALL)


@pytest.fixture(scope="session")
def do1(small_generator):
    """DO1 with random chain length, no STOP."""
    return _jitted(DO1(small_generator))


@pytest.fixture(scope="session")
def do1_stop(small_generator):
    """DO1 with STOP and a fixed chain length 2."""
    return _jitted(DO1(small_generator, stop_action=True, chain_length=2))


@pytest.fixture(scope="session")
def alternating(small_generator):
    return _jitted(AlternatingCircuit(small_generator))


@pytest.fixture(scope="session")
def alternating_stop(small_generator):
    return _jitted(AlternatingCircuit(small_generator, stop_action=True))
