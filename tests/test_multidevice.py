"""Sharding episodes across devices changes nothing but where they run.

Runs in a subprocess because the 2 host devices must be set before jax starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from do1rl.agents.baselines import random_policy
    from do1rl.envs import DO1
    from do1rl.evaluation import episode_keys, episode_sharding, make_player, play
    from do1rl.core.generators import RandomAlternating

    assert jax.local_device_count() == 2, jax.devices()
    env = DO1(RandomAlternating(n_inputs=3, depth=3, width=3), stop_action=True)
    params = env.default_params
    player = make_player(env, random_policy)
    one = play(env, params, None, episodes=37, seed=5, player=player, devices=1)
    two = play(env, params, None, episodes=37, seed=5, player=player, devices=2, chunk=16)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    out = player(params, jax.device_put(episode_keys(5, 0, 8), episode_sharding(2)))
    assert len(out.returns.sharding.device_set) == 2, out.returns.sharding
    print("ok", one.returns.sum())
    """
)


def test_two_devices_match_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
