"""Test-time iterations: a trained recurrent net forced to T block applications per decision."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from do1rl.agents.networks import NetworkConfig, make_network, serial_depth
from do1rl.core.generators import RandomAlternating
from do1rl.envs import AlternatingCircuit
from do1rl.experiments.runs import with_iterations, with_max_iterations

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

ENV = AlternatingCircuit(RandomAlternating(n_inputs=3, depth=4, width=3), stop_action=True)
RECURRENT = NetworkConfig(family="recurrent", width=16, iterations_per_depth=1.0, extra_iterations=1)


def test_forced_iterations_reuse_the_trained_parameters():
    obs, _ = ENV.reset(jax.random.key(3), ENV.default_params)
    natural = int(serial_depth(RECURRENT, ENV, obs) - 2) // 2  # 1 + 2T + 1
    net = make_network(RECURRENT, ENV)
    params = net.init(jax.random.key(0), obs)
    same = make_network(with_iterations(RECURRENT, natural), ENV)
    longer = make_network(with_iterations(RECURRENT, natural + 3), ENV)
    want = net.apply(params, obs)
    np.testing.assert_array_equal(same.apply(params, obs)[0], want[0])  # T = the trained rule's T: same net
    np.testing.assert_array_equal(same.apply(params, obs)[1], want[1])
    assert not np.array_equal(longer.apply(params, obs)[0], want[0])  # more iterations change the output
    assert int(serial_depth(with_iterations(RECURRENT, 7), ENV, obs)) == 1 + 2 * 7 + 1


def test_forced_iterations_need_a_recurrent_net_and_a_positive_count():
    with pytest.raises(ValueError, match="recurrent"):
        with_iterations(NetworkConfig(family="gnn"), 3)
    with pytest.raises(ValueError, match=">= 1"):
        with_iterations(RECURRENT, 0)


def test_a_training_cap_lifted_at_test_gives_the_uncapped_net():
    """A net trained under a cap that binds (T capped below T(obs)) runs the rule's T once the cap is lifted."""
    obs, _ = ENV.reset(jax.random.key(3), ENV.default_params)
    capped = dataclasses.replace(RECURRENT, max_iterations=2)
    net = make_network(capped, ENV)
    params = net.init(jax.random.key(0), obs)
    assert int(serial_depth(capped, ENV, obs)) == 1 + 2 * 2 + 1
    lifted = with_max_iterations(capped, 64)
    assert lifted == RECURRENT
    np.testing.assert_array_equal(make_network(lifted, ENV).apply(params, obs)[0], make_network(RECURRENT, ENV).apply(params, obs)[0])
    with pytest.raises(ValueError, match="recurrent"):
        with_max_iterations(NetworkConfig(family="gnn"), 3)
    with pytest.raises(ValueError, match=">= 1"):
        with_max_iterations(RECURRENT, 0)
