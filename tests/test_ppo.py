"""PPO: GAE against a Python loop, action masking, determinism, and a regret-bound regression."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.agents.masking import entropy, log_probs, masked_logits
from do1rl.agents.ppo import gae
from do1rl.experiments import config as C
from do1rl.experiments.train_config import TrainConfig
from do1rl.experiments.trainer import Trainer, seed_keys
from do1rl.testing import assert_regret_within

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

# A shallow AlternatingCircuit: depth 3, three gates per layer, STOP enabled.
SHALLOW = dict(n_inputs=3, depth=3, width=3, stop_action=True)
ENV_ID = "do1rl/AlternatingCircuit-v0"


def small_config(*overrides: str) -> TrainConfig:
    base = [
        f"env.id={ENV_ID}",
        "env.args={n_inputs: 3, depth: 3, width: 3, stop_action: true}",
        "network.family=gnn",
        "network.depth=3",
        "network.width=32",
        "ppo.num_envs=64",
        "ppo.num_steps=32",
        "ppo.learning_rate=0.001",
        "ppo.ent_coef=0.001",
        "ppo.total_timesteps=40960",
        "log.updates_per_chunk=5",
    ]
    given = {pair.split("=", 1)[0] for pair in overrides}  # an override replaces the base's value for its key
    return C.load(TrainConfig, None, [pair for pair in base if pair.split("=", 1)[0] not in given] + list(overrides))


def gae_reference(rewards, values, next_values, terminated, done, gamma, lam):
    """Plain-Python GAE over one env's trajectory."""
    adv = np.zeros(len(rewards))
    running = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] * (1 - terminated[t]) - values[t]
        running = delta + gamma * lam * (1 - done[t]) * running
        adv[t] = running
    return adv, adv + values


def test_gae_matches_python_with_termination_and_truncation():
    rng = np.random.default_rng(0)
    t, e = 17, 5
    rewards = rng.normal(size=(t, e)).astype(np.float32)
    values = rng.normal(size=(t, e)).astype(np.float32)
    next_values = rng.normal(size=(t, e)).astype(np.float32)
    terminated = (rng.random((t, e)) < 0.15).astype(np.float32)
    truncated = ((rng.random((t, e)) < 0.15) & (terminated == 0)).astype(np.float32)
    done = np.maximum(terminated, truncated)
    adv, ret = jax.jit(gae, static_argnums=(5, 6))(rewards, values, next_values, terminated, done, 0.97, 0.9)
    for i in range(e):
        ref_adv, ref_ret = gae_reference(rewards[:, i], values[:, i], next_values[:, i], terminated[:, i], done[:, i], 0.97, 0.9)
        np.testing.assert_allclose(adv[:, i], ref_adv, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ret[:, i], ref_ret, rtol=1e-5, atol=1e-5)
    # A truncated last step bootstraps from V(final obs); a terminated one does not.
    a_trunc, _ = gae(jnp.ones((1, 1)), jnp.zeros((1, 1)), jnp.full((1, 1), 5.0), jnp.zeros((1, 1)), jnp.ones((1, 1)), 1.0, 1.0)
    a_term, _ = gae(jnp.ones((1, 1)), jnp.zeros((1, 1)), jnp.full((1, 1), 5.0), jnp.ones((1, 1)), jnp.ones((1, 1)), 1.0, 1.0)
    assert float(a_trunc[0, 0]) == 6.0 and float(a_term[0, 0]) == 1.0


def test_masked_actions_are_never_sampled_and_get_no_gradient():
    logits = jnp.array([5.0, 0.0, 3.0, -1.0, 10.0])
    mask = jnp.array([False, True, True, True, False])
    samples = jax.random.categorical(jax.random.key(0), masked_logits(logits, mask), shape=(20_000,))
    assert set(np.unique(samples)) <= {1, 2, 3}
    p = np.exp(np.asarray(log_probs(logits, mask)))
    assert p[0] == 0.0 and p[4] == 0.0
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-6)
    legal = np.exp(np.array([0.0, 3.0, -1.0]))
    np.testing.assert_allclose(float(entropy(logits, mask)), -(legal / legal.sum() * np.log(legal / legal.sum())).sum(), rtol=1e-5)

    def loss(lg):
        return -(log_probs(lg, mask)[2]) - entropy(lg, mask)

    grad = jax.grad(loss)(logits)
    assert grad[0] == 0.0 and grad[4] == 0.0 and np.all(np.isfinite(grad))


@pytest.fixture(scope="module")
def trained():
    """One short PPO run on the shallow AlternatingCircuit (the module's compiled trainer)."""
    cfg = small_config()
    trainer = Trainer(cfg)
    state = trainer.init(seed_keys(cfg))
    chunk = cfg.log.updates_per_chunk
    # Chunks after the first reuse the first compilation (no retrace from dtype drift).
    run = jax.jit(chex.assert_max_traces(lambda s: jax.vmap(trainer.learner.run, in_axes=(0, None))(s, chunk), n=1))
    for _ in range(cfg.ppo.num_updates // chunk):
        state, totals = run(state)
    return cfg, trainer, state, totals


def test_ppo_reaches_ratio_09_and_beats_random(trained):
    cfg, trainer, state, _ = trained
    assert int(state.update[0]) == cfg.ppo.num_updates
    params = jax.tree.map(lambda x: x[0], state.params)
    policy = trainer.learner.policy(params, greedy=True)
    ppo = assert_regret_within(policy, ENV_ID, episodes=512, seed=123, min_mean_ratio=0.9, **SHALLOW)
    rand = assert_regret_within("random", ENV_ID, episodes=512, seed=123, **SHALLOW)
    assert ppo["mean_ratio"] >= rand["mean_ratio"] + 0.3, (ppo["mean_ratio"], rand["mean_ratio"])
    assert ppo["mean_regret"] <= 0.25 * rand["mean_regret"]


def test_same_seed_same_numbers_and_chunking_does_not_matter(trained):
    cfg, trainer, state, _ = trained
    again = trainer.init(seed_keys(cfg))
    for _ in range(cfg.ppo.num_updates):  # one iteration per call instead of chunks of 5
        again, _ = trainer.run_chunk(again, 1)
    chex.assert_trees_all_equal(jax.device_get(again), jax.device_get(state))


def test_seeds_are_vmapped_independently():
    # A small mlp: what is checked is the seed axis, not the network (two compiles of the gnn cost 40 s).
    sizes = ("ppo.total_timesteps=4096", "ppo.num_envs=16", "ppo.num_steps=8", "network.family=mlp", "network.depth=4", "network.width=16")
    cfg = small_config("num_seeds=2", *sizes)
    trainer = Trainer(cfg)
    both, _ = trainer.run_chunk(trainer.init(seed_keys(cfg)), 2)
    single_cfg = small_config(*sizes)
    single = Trainer(single_cfg)
    first, _ = single.run_chunk(single.init(seed_keys(single_cfg)), 2)
    chex.assert_trees_all_close(
        jax.tree.map(lambda x: x[0], jax.device_get(both.params)),
        jax.tree.map(lambda x: x[0], jax.device_get(first.params)),
        rtol=1e-5,
        atol=1e-6,
    )
    a, b = jax.tree.leaves(both.params)[0]
    assert not np.allclose(a, b)  # different seeds, different networks
