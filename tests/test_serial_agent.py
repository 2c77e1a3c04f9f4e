"""The serial-agent options: the bottleneck family, recall, the auxiliary node-value loss, progressive training, random T.

Each is checked against an independent construction (docs/design/networks.md, docs/design/ppo.md).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.agents import networks as nets
from do1rl.agents.losses import node_value_loss
from do1rl.agents.networks import NetworkConfig, apply_batch, make_network, rule_iterations
from do1rl.agents.ppo import PPO, PPOConfig, Transition
from do1rl.envs.make import make

ENV_ARGS = {"family": "biregular", "width": 3, "k": 2, "max_selections": 1, "chain_scale": "circuit", "stratify_d1": False}


@pytest.fixture(scope="module")
def small():
    """A one-shot DO1 env of depth 3 and a batch of 4 of its first observations and states."""
    env, params = make("do1rl/DO1-v0", depth=3, **ENV_ARGS)
    obs, states = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(0), 4), params)
    return env, params, obs, states


def _reference_loss(rows, labels, depth, real, iterations, target, first_row=None):
    """node_value_loss in plain Python loops."""
    rows, labels, depth, real = map(np.asarray, (rows, labels, depth, real))
    total, count = 0.0, 0
    for b in range(rows.shape[0]):
        t = int(iterations[b])
        start = 0 if first_row is None else int(first_row[b])
        for r in range(rows.shape[1]):
            if r >= t or r < start or (target == "final" and r != t - 1):
                continue
            for n in range(rows.shape[2]):
                if not real[b, n] or (target == "hint" and depth[b, n] > r + 1):
                    continue
                total -= rows[b, r, n, int(labels[b, n])]
                count += 1
    return total / max(count, 1)


@pytest.mark.parametrize("target", ["final", "hint"])
def test_node_value_loss_matches_loops(target):
    rng = np.random.default_rng(0)
    b, r, n = 3, 5, 7
    rows = np.log(rng.dirichlet([1.0, 1.0], size=(b, r, n))).astype(np.float32)
    labels = rng.random((b, n)) < 0.5
    depth = rng.integers(0, 6, (b, n))
    real = rng.random((b, n)) < 0.8
    iterations = np.array([5, 3, 1])
    first = np.array([0, 1, 0])
    for first_row in (None, first):
        got = node_value_loss(
            jnp.asarray(rows),
            jnp.asarray(labels),
            jnp.asarray(depth),
            jnp.asarray(real),
            jnp.asarray(iterations),
            target,
            None if first_row is None else jnp.asarray(first_row),
        )
        want = _reference_loss(rows, labels, depth, real, iterations, target, first_row)
        np.testing.assert_allclose(float(got), want, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["bottleneck", "gnn", "recurrent"])
def test_graph_nets_read_the_same_with_more_nodes(small, family):
    """Nothing in a graph net depends on the circuit's size: padding slots leave every node's logit unchanged.

    This is what lets a sweep retarget a trained graph net to deeper test envs
    (`runs.retarget`, with the depth scale of the training env: `scales_of`).
    """
    env, _, obs, _ = small
    extra, n = 5, env.num_nodes
    padded = obs._replace(
        node_type=jnp.pad(obs.node_type, ((0, 0), (0, extra))),
        fanin=jnp.pad(obs.fanin, ((0, 0), (0, extra), (0, 0)), constant_values=-1),
        depth=jnp.pad(obs.depth, ((0, 0), (0, extra))),
        circuit_id=jnp.pad(obs.circuit_id, ((0, 0), (0, extra))),
        selected=jnp.pad(obs.selected, ((0, 0), (0, extra))),
        action_mask=jnp.concatenate([obs.action_mask[:, :n], jnp.zeros((4, extra), bool), obs.action_mask[:, n:]], -1),
    )
    bigger = SimpleNamespace(
        num_nodes=n + extra,
        fanin_slots=env.fanin_slots,
        num_actions=env.num_actions + extra,
        max_depth=env.max_depth,
        max_horizon=env.max_horizon,
        stop_action=env.stop_action,
    )
    config = NetworkConfig(family=family, width=8, depth=2)
    net, net_big = make_network(config, env), make_network(config, bigger, scales_of=env)
    p = net.init(jax.random.key(1), jax.tree.map(lambda x: x[0], obs))
    logits, _ = apply_batch(net, p, obs)
    logits_big, _ = apply_batch(net_big, p, padded)
    np.testing.assert_allclose(logits[:, :n], logits_big[:, :n], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits[:, n:], logits_big[:, n + extra :], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_recall_with_zero_weights_is_the_plain_net(small):
    env, _, obs, _ = small
    plain = make_network(NetworkConfig(family="recurrent", width=8), env)
    recall = make_network(NetworkConfig(family="recurrent", width=8, recall=True), env)
    o = jax.tree.map(lambda x: x[0], obs)
    p_recall = recall.init(jax.random.key(0), o)
    p_plain = plain.init(jax.random.key(0), o)
    mix = p_recall["params"]["loop"]["block"]["mix"]["kernel"]
    rows = p_plain["params"]["loop"]["block"]["mix"]["kernel"].shape[0]
    zeroed = jax.tree.map(lambda x: x, p_recall)
    zeroed["params"]["loop"]["block"]["mix"]["kernel"] = mix.at[rows:].set(0.0)
    trimmed = jax.tree.map(lambda x: x, zeroed)
    trimmed["params"]["loop"]["block"]["mix"]["kernel"] = mix[:rows]
    np.testing.assert_allclose(apply_batch(recall, zeroed, obs)[0], apply_batch(plain, trimmed, obs)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_no_grad_iterations_stop_the_gradient(small):
    """With no_grad = n the gradient equals that of k iterations started from the (constant) state after n."""
    env, _, obs, _ = small
    net = make_network(NetworkConfig(family="bottleneck", width=8, max_iterations=4), env)
    p = net.init(jax.random.key(2), jax.tree.map(lambda x: x[0], obs))
    batch = obs.depth.shape[0]
    n = jnp.full((batch,), 2, jnp.int32)

    def loss(params, iterations, no_grad):
        _, _, rows = apply_batch(net, params, obs, iterations, method="with_node_values", no_grad=no_grad)
        return jnp.sum(rows[:, -1])

    g_frozen = jax.grad(loss)(p, n + 1, n)
    # Independent construction: differentiate only the last iteration, from a state computed apart.
    state_n, _ = net.apply(p, obs, n, method="node_states")

    def last_step(params):  # the loop's last step alone, from state_n
        feats = nets.local_features(obs, net.dims).reshape(-1, nets.LOCAL_FEATURES)
        graph = nets.edges(nets.flat_fanin(obs.fanin), feats.dtype)
        step = nets._BottleneckStep(8, net.state_init_scale)
        ones = jnp.ones((feats.shape[0], 1), jnp.int32)
        _, out = step.apply({"params": params["params"]["loop"]}, (state_n.reshape(-1, 3), jnp.int32(0)), graph, ones, 0 * ones, feats)
        return jnp.sum(out)

    g_last = jax.grad(last_step)(p)
    np.testing.assert_allclose(
        g_frozen["params"]["loop"]["dense0"]["kernel"], g_last["params"]["loop"]["dense0"]["kernel"], rtol=1e-4, atol=1e-6
    )


def test_random_iterations_range(small):
    env, params, obs, _ = small
    net = make_network(NetworkConfig(family="bottleneck", width=8, max_iterations=9), env)
    ppo = PPO(env, params, net, PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, random_iterations=True))
    draws = np.stack([np.asarray(ppo._training_iterations(jax.random.key(i), obs)[0]) for i in range(200)])
    rule = np.asarray(rule_iterations(net, obs))
    assert np.all(draws >= rule) and np.all(draws <= net.static_iterations)
    assert set(np.unique(draws)) == set(range(int(rule.min()), net.static_iterations + 1))


@pytest.mark.slow
def test_labels_reach_only_the_auxiliary_loss(small):
    """The policy never observes gate values; the PPO loss depends on them only through the auxiliary term."""
    env, params, obs, states = small
    net = make_network(NetworkConfig(family="gnn", depth=2, width=8), env, node_values=True)
    p = net.init(jax.random.key(0), jax.tree.map(lambda x: x[0], obs), method="with_node_values")
    zeros = jnp.zeros(obs.depth.shape[:-1])
    batch = Transition(
        obs=obs,
        action=jnp.argmax(obs.action_mask, -1).astype(jnp.int32),
        log_prob=zeros,
        value=zeros,
        reward=zeros,
        terminated=zeros,
        done=zeros,
        bootstrap=zeros,
        labels=states.value,
        iterations=jnp.zeros_like(zeros, jnp.int32),
    )
    flipped = batch._replace(labels=~states.value)
    adv, targets = jnp.linspace(-1, 1, zeros.size), jnp.ones_like(zeros)
    for coef, differs in ((0.0, False), (1.0, True)):
        config = PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, aux_coef=coef)
        ppo = PPO(env, params, net, config)
        g = jax.grad(lambda q, b, ppo=ppo: ppo._loss(q, b, adv, targets)[0])
        same = jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.allclose(a, b)), g(p, batch), g(p, flipped)))
        assert same != differs


def test_config_refusals(small):
    env, params, _, _ = small
    gnn = make_network(NetworkConfig(family="gnn", depth=2, width=8), env)
    with pytest.raises(ValueError, match="recurrent network"):
        PPO(env, params, gnn, PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, random_iterations=True))
    with pytest.raises(ValueError, match="node_values"):
        PPO(env, params, gnn, PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, aux_coef=1.0))
    with pytest.raises(ValueError, match="aux_target"):
        PPOConfig(aux_target="everything")
    with pytest.raises(ValueError, match="aux_coef"):
        PPOConfig(aux_coef=-1.0)
    with pytest.raises(ValueError, match="progressive_alpha"):
        PPOConfig(progressive_alpha=0.5)


@pytest.mark.slow
def test_bottleneck_trains_a_few_updates_with_every_option(small):
    env, params, _, _ = small
    net = make_network(NetworkConfig(family="bottleneck", width=8, max_iterations=6), env)
    config = PPOConfig(
        total_timesteps=128,
        num_envs=8,
        num_steps=4,
        num_minibatches=2,
        update_epochs=1,
        aux_coef=1.0,
        progressive_alpha=0.5,
        random_iterations=True,
    )
    state, totals = jax.jit(PPO(env, params, net, config).train)(jax.random.key(0))
    assert np.isfinite(float(totals.aux_loss)) and float(totals.aux_loss) > 0
    assert dataclasses.is_dataclass(config)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.params))
