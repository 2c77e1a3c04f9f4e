"""Actor-critic networks: shapes, vmap/jit consistency, serial depth, evaluation power."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import ON_CPU, assert_matmul_close

from do1rl.agents import features, networks
from do1rl.agents.networks import NetworkConfig
from do1rl.core.circuit import AND, INPUT_1, OR
from do1rl.core.generators import RandomAlternating
from do1rl.envs import AlternatingCircuit

KEY = jax.random.key(0)
CONFIGS = {
    "mlp": NetworkConfig(family="mlp", depth=4, width=16),
    "gnn": NetworkConfig(family="gnn", depth=2, width=16),
    "recurrent": NetworkConfig(family="recurrent", width=16),
    "bottleneck": NetworkConfig(family="bottleneck", width=16),
}


def index(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def varied_batch(fns, seed=0):
    """4 observations with some gates selected and (hand-made) varied depths.

    Capping the depths gives each observation its own recurrent iteration count.
    (Always 4, so the session's jitted batch reset compiles once.)
    """
    n = 4
    obs, _ = fns.batch_reset(jax.random.split(jax.random.key(seed), n), fns.params)
    caps = jnp.arange(n)[:, None] + 1
    gate = obs.node_type >= AND
    return obs._replace(
        depth=jnp.minimum(obs.depth, caps),
        selected=gate & (jnp.arange(gate.shape[1])[None, :] % 3 == jnp.arange(n)[:, None] % 3),
    )


_PARAMS: dict = {}


def init_params(family, fns, obs):
    """Parameters for `family` on `fns.env`, initialised once per test module."""
    key = (family, repr(fns.env))
    if key not in _PARAMS:
        net = networks.make_network(CONFIGS[family], fns.env)
        _PARAMS[key] = jax.jit(net.init)(KEY, obs)
    return _PARAMS[key]


@pytest.mark.slow
@pytest.mark.parametrize("family", networks.FAMILIES)
def test_apply_shapes_vmap_jit_no_retrace(family, alternating_stop):
    env = alternating_stop.env
    net = networks.make_network(CONFIGS[family], env)
    obs = varied_batch(alternating_stop)
    params = init_params(family, alternating_stop, index(obs, 0))
    assert networks.param_count(params) > 0

    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def jitted(p, o):
        return net.apply(p, o)

    batched = jax.jit(jax.vmap(net.apply, in_axes=(None, 0)))(params, obs)
    eager = net.apply(params, index(obs, 0))
    assert_matmul_close(eager[0], batched[0][0])
    assert_matmul_close(eager[1], batched[1][0])
    for i in range(obs.depth.shape[0]):  # same shapes: a retrace would raise
        logits, value = jitted(params, index(obs, i))
        assert logits.shape == (env.num_actions,) and logits.dtype == jnp.float32
        assert value.shape == () and value.dtype == jnp.float32
        assert np.all(np.isfinite(logits)) and np.isfinite(value)
        assert_matmul_close(batched[0][i], logits)
        assert_matmul_close(batched[1][i], value)
    # The observations differ, and so do the outputs.
    assert not np.allclose(batched[0][0], batched[0][1])


@pytest.mark.parametrize("family", networks.FAMILIES)
def test_do1_without_stop(family, do1):
    """DO1 (chain nodes, no STOP action): shapes and finite outputs, batched."""
    net = networks.make_network(CONFIGS[family], do1.env)
    obs = varied_batch(do1, seed=2)
    params = init_params(family, do1, index(obs, 0))
    logits, value = jax.jit(jax.vmap(net.apply, in_axes=(None, 0)))(params, obs)
    assert logits.shape == (4, do1.env.num_actions) and value.shape == (4,)
    assert np.all(np.isfinite(logits)) and np.all(np.isfinite(value))
    assert not np.allclose(logits[0], logits[1])


@pytest.mark.slow
def test_recurrent_gradients(alternating_stop):
    """The recurrent loop is reverse-mode differentiable (PPO needs it), also under vmap."""
    net = networks.make_network(CONFIGS["recurrent"], alternating_stop.env)
    obs = varied_batch(alternating_stop)
    params = init_params("recurrent", alternating_stop, index(obs, 0))

    def loss(p):
        logits, value = jax.vmap(net.apply, in_axes=(None, 0))(p, obs)
        logp = jnp.where(obs.action_mask, jax.nn.log_softmax(logits), 0.0)
        return jnp.sum(logp) + jnp.sum(value)

    grads = jax.jit(jax.grad(loss))(params)
    block = grads["params"]["loop"]["block"]["mix"]["kernel"]
    norms = [float(jnp.linalg.norm(g)) for g in jax.tree.leaves(grads)]
    assert all(np.isfinite(norms)) and float(jnp.linalg.norm(block)) > 0


@pytest.mark.slow
def test_unrolled_recurrent_matches_rolled_loop(alternating_stop):
    """The unrolled loop with shared edge bookkeeping gives the rolled loop's outputs bitwise.

    Gradients to within float32 rounding (rtol 1e-5; TF32 on GPU): the weight-tied
    block's gradient is summed over the iterations in a different order when unrolled.
    """
    new = networks.make_network(CONFIGS["recurrent"], alternating_stop.env)
    old = new.clone(unrolled=False)
    obs = varied_batch(alternating_stop)
    params = init_params("recurrent", alternating_stop, index(obs, 0))

    def outputs_and_grads(net):
        def loss(p):
            logits, value = jax.vmap(net.apply, in_axes=(None, 0))(p, obs)
            logp = jnp.where(obs.action_mask, jax.nn.log_softmax(logits), 0.0)
            return jnp.sum(logp) + jnp.sum(value), (logits, value)

        return jax.jit(jax.grad(loss, has_aux=True))(params)

    (want_grads, want_out), (got_grads, got_out) = outputs_and_grads(old), outputs_and_grads(new)
    for a, b in zip(want_out, got_out):
        if ON_CPU:
            np.testing.assert_array_equal(np.asarray(a).view(np.uint32), np.asarray(b).view(np.uint32))
        else:  # GPU kernels may fuse the two loops differently
            assert_matmul_close(b, a)
    assert jax.tree.structure(want_grads) == jax.tree.structure(got_grads)
    for a, b in zip(jax.tree.leaves(want_grads), jax.tree.leaves(got_grads)):
        assert_matmul_close(b, a)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gnn", "recurrent"])
def test_flat_batch_matches_vmapped_observations(family, do1):
    """A batch taken whole (one graph of B * N nodes) gives the per-observation path's outputs and gradients.

    The reference is today's per-observation path, vmapped (for the recurrent
    net the rolled loop, `unrolled=False`). Tolerance: rtol 1e-5, atol 1e-6
    on CPU (float32 rounding: sums over the batch's rows may be taken in
    another order); TF32 tolerance on GPU.
    """
    net = networks.make_network(CONFIGS[family], do1.env).clone(flat=True)
    per_observation = net.clone(flat=False, **({"unrolled": False} if family == "recurrent" else {}))
    obs = varied_batch(do1, seed=3)
    params = init_params(family, do1, index(obs, 0))

    def outputs_and_grads(apply):
        def loss(p):
            logits, value = apply(p)
            logp = jnp.where(obs.action_mask, jax.nn.log_softmax(logits), 0.0)
            return jnp.sum(logp) + jnp.sum(value), (logits, value)

        return jax.jit(jax.grad(loss, has_aux=True))(params)

    want = outputs_and_grads(lambda p: jax.vmap(per_observation.apply, in_axes=(None, 0))(p, obs))
    got = outputs_and_grads(lambda p: networks.apply_batch(net, p, obs))
    assert jax.tree.structure(want) == jax.tree.structure(got)
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        assert_matmul_close(b, a)
    # Any leading batch shape: [2, 2] gives the [4] batch's outputs.
    square = jax.tree.map(lambda x: x.reshape(2, 2, *x.shape[1:]), obs)
    logits, value = jax.jit(net.apply)(params, square)
    assert_matmul_close(np.asarray(logits).reshape(4, -1), got[1][0])
    assert_matmul_close(np.asarray(value).reshape(4), got[1][1])


def test_runs_over_several_devices_vmap_graph_networks():
    """One device: whole batches (flat); several: vmapped over observations."""
    from do1rl.experiments.train_config import TrainConfig
    from do1rl.experiments.trainer import build

    for family in ("gnn", "recurrent"):
        config = dataclasses.replace(TrainConfig(), network=CONFIGS[family])
        assert build(config)[2].flat and not build(config, devices=2)[2].flat


@pytest.mark.slow
def test_initialisation_scales(alternating_stop):
    obs = index(varied_batch(alternating_stop), 0)
    p = init_params("mlp", alternating_stop, obs)["params"]
    for layer in p.values():
        np.testing.assert_array_equal(layer["bias"], 0.0)
    # Orthogonal columns: each has norm equal to the gain.
    np.testing.assert_allclose(np.linalg.norm(p["policy"]["kernel"], axis=0), 0.01, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(p["value"]["kernel"], axis=0), 1.0, rtol=1e-4)
    w = np.asarray(p["block0_dense0"]["kernel"])  # NumPy's matmul: full float32 on any backend
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(w.shape[1]), atol=1e-4)
    heads = init_params("gnn", alternating_stop, obs)["params"]["heads"]
    np.testing.assert_allclose(np.linalg.norm(heads["gate_logit"]["kernel"]), 0.01, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(heads["value"]["kernel"]), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(heads["other_logits"]["bias"], 0.0)


def _count(config, env, obs):
    shapes = jax.eval_shape(networks.make_network(config, env).init, KEY, obs)
    return networks.param_count(shapes)


def test_param_count_grows(alternating_stop):
    env = alternating_stop.env
    obs = index(varied_batch(alternating_stop), 0)
    for family, config in CONFIGS.items():
        wide = dataclasses.replace(config, width=2 * config.width)
        assert _count(wide, env, obs) > _count(config, env, obs), family
    mlp = CONFIGS["mlp"]
    assert _count(dataclasses.replace(mlp, depth=8), env, obs) > _count(mlp, env, obs)
    gnn = CONFIGS["gnn"]
    assert _count(dataclasses.replace(gnn, depth=3), env, obs) > _count(gnn, env, obs)
    # The recurrent block is weight-tied: its size does not depend on T.
    rec = CONFIGS["recurrent"]
    assert _count(dataclasses.replace(rec, max_iterations=2), env, obs) == _count(rec, env, obs)


def test_serial_depth(alternating_stop):
    deep_env = AlternatingCircuit(RandomAlternating(n_inputs=3, depth=6, width=2))  # max_depth 6
    shallow = SimpleNamespace(depth=jnp.array([0, 0, 1, 2, 2, 0], jnp.int32))
    deep = SimpleNamespace(depth=jnp.array([0, 1, 2, 3, 4, 5, 6, 0], jnp.int32))
    for family, expected in (("mlp", 1 + 8 + 1), ("gnn", 1 + 2 * 4 + 1)):
        config = NetworkConfig(family=family, depth=8 if family == "mlp" else 4)
        got = {int(networks.serial_depth(config, deep_env, o)) for o in (shallow, deep)}
        assert got == {expected}

    rec = NetworkConfig(family="recurrent", iterations_per_depth=1.0, extra_iterations=1)
    s_shallow = int(networks.serial_depth(rec, deep_env, shallow))
    s_deep = int(networks.serial_depth(rec, deep_env, deep))
    assert s_shallow == 1 + 2 * (2 + 1) + 1 and s_deep == 1 + 2 * (6 + 1) + 1
    half = dataclasses.replace(rec, iterations_per_depth=0.5, extra_iterations=0)
    assert int(networks.serial_depth(half, deep_env, deep)) == 1 + 2 * 3 + 1
    capped = dataclasses.replace(rec, max_iterations=4)
    assert int(networks.serial_depth(capped, deep_env, shallow)) == 1 + 2 * 3 + 1
    assert int(networks.serial_depth(capped, deep_env, deep)) == 1 + 2 * 4 + 1

    # A real observation (depth-3 circuits), jitted and vmapped: int32, per observation.
    env = alternating_stop.env
    obs = varied_batch(alternating_stop)  # depths capped at 1, 2, 3, 3
    got = jax.jit(jax.vmap(lambda o: networks.serial_depth(rec, env, o)))(obs)
    assert got.dtype == jnp.int32
    assert got.tolist() == [1 + 2 * (d + 1) + 1 for d in (1, 2, 3, 3)]


def test_fanin_and_fanout_aggregates():
    rng = np.random.default_rng(0)
    fanin = np.array([[-1, -1, -1], [-1, -1, -1], [0, 1, -1], [2, -1, 0], [3, 2, 1], [-1, -1, -1]])
    h = rng.normal(size=(6, 4)).astype(np.float32)
    lo, hi = features.fanin_min_max(jnp.asarray(h), jnp.asarray(fanin, jnp.int32))
    total, mean, hi2, lo2 = features.fanin_aggregate(jnp.asarray(h), jnp.asarray(fanin, jnp.int32))
    up_total, up_mean = features.fanout_aggregate(jnp.asarray(h), jnp.asarray(fanin, jnp.int32))
    for i, row in enumerate(fanin):
        kids = [j for j in row if j >= 0]
        want_lo = h[kids].min(0) if kids else np.zeros(4)
        want_hi = h[kids].max(0) if kids else np.zeros(4)
        want_sum = h[kids].sum(0) if kids else np.zeros(4)
        np.testing.assert_array_equal(lo[i], want_lo)
        np.testing.assert_array_equal(hi[i], want_hi)
        np.testing.assert_array_equal(lo2[i], want_lo)
        np.testing.assert_array_equal(hi2[i], want_hi)
        np.testing.assert_allclose(total[i], want_sum, rtol=1e-6)
        np.testing.assert_allclose(mean[i], want_sum / max(len(kids), 1), rtol=1e-6)
        readers = [p for p in range(6) for j in fanin[p] if j == i]
        want_up = h[readers].sum(0) if readers else np.zeros(4)
        np.testing.assert_allclose(up_total[i], want_up, rtol=1e-6)
        np.testing.assert_allclose(up_mean[i], want_up / max(len(readers), 1), rtol=1e-6)


def _evaluator_params(shapes, width, sharpness=20.0):
    """Hand-set weights that make the recurrent block evaluate one circuit layer.

    Embedding channels: 0 v (the node's value: the input bit, 0 for gates at
    first), 1 1-v, 2 isOR, 3 1-isOR, 4 isAND, 5 1-isAND, the rest 0. Every
    pair holds one 1 and one 0, so the block's LayerNorm is one fixed affine
    map x = (h - m) / s. The block's hidden units are ReLUs (Swish(k y) / k
    for a large k) of
      y0 = min_children(v) + isAND - 1   (= v' for AND, <= 0 otherwise)
      y1 = max_children(v) + isOR - 1    (= v' for OR, <= 0 otherwise)
      y2 = v - isAND - isOR              (= v for inputs, <= 0 for gates)
      y3 = v
    and the block adds y0 + y1 + y2 - y3 to v (and subtracts it from 1-v).
    """
    w, k = width, sharpness
    m = 3.0 / w
    s = np.sqrt(3.0 / w - m * m + 1e-6)
    embed = np.zeros((features.NODE_FEATURES + features.GLOBAL_FEATURES, w), np.float32)
    bias = np.zeros(w, np.float32)
    for col, type_id in ((0, INPUT_1), (2, OR), (4, AND)):
        embed[type_id, col], embed[type_id, col + 1], bias[col + 1] = 1.0, -1.0, 1.0
    mix = np.zeros((7 * w, w), np.float32)
    mix_bias = np.zeros(w, np.float32)
    x, c_max, c_min = 0, 3 * w, 4 * w  # offsets in [x, sum, mean, max, min, up_sum, up_mean]
    mix[c_min + 0, 0], mix[x + 4, 0], mix_bias[0] = k * s, k * s, k * (2 * m - 1)
    mix[c_max + 0, 1], mix[x + 2, 1], mix_bias[1] = k * s, k * s, k * (2 * m - 1)
    mix[x + 0, 2], mix[x + 4, 2], mix[x + 2, 2], mix_bias[2] = k * s, -k * s, -k * s, -k * m
    mix[x + 0, 3], mix_bias[3] = k * s, k * m
    out = np.zeros((w, w), np.float32)
    out[:3, 0], out[3, 0] = 1 / k, -1 / k
    out[:3, 1], out[3, 1] = -1 / k, 1 / k

    p = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), shapes)
    p["params"]["embed"] = {"kernel": embed, "bias": bias}
    block = p["params"]["loop"]["block"]
    block["norm"] = {"scale": np.ones(w, np.float32), "bias": np.zeros(w, np.float32)}
    block["mix"] = {"kernel": mix, "bias": mix_bias}
    block["out"] = {"kernel": out, "bias": np.zeros(w, np.float32)}
    return p


def test_recurrent_block_evaluates_one_layer_per_iteration(alternating_stop):
    """With T = circuit depth the hand-set block computes every gate's value exactly;

    with T = depth - 1 the deepest layer is not yet evaluated (so the test can fail).
    """
    fns = alternating_stop
    env = fns.env
    batches = [fns.batch_reset(jax.random.split(jax.random.key(s), 4), fns.params) for s in range(4)]
    obs, state = jax.tree.map(lambda *x: jnp.concatenate(x), *batches)
    width = 8
    exact = NetworkConfig(family="recurrent", width=width, iterations_per_depth=1.0, extra_iterations=0)
    short = dataclasses.replace(exact, max_iterations=env.max_depth - 1)
    real = np.asarray(obs.node_type != 0)

    def values(config):
        net = networks.make_network(config, env)
        params = _evaluator_params(jax.eval_shape(net.init, KEY, index(obs, 0)), width)
        embed = jax.jit(jax.vmap(lambda o: net.apply(params, o, method="node_embeddings")))
        h = np.asarray(embed(obs))
        return h[..., 0]

    v = values(exact)
    truth = np.asarray(state.value)
    assert np.all(np.abs(v[real] - truth[real]) < (1e-3 if ON_CPU else 1e-2))  # TF32 rounding, layer by layer, on GPU
    assert np.asarray(obs.node_type == OR).any() and np.asarray(obs.node_type == AND).any()
    assert 0 < truth[np.asarray(obs.node_type >= AND)].mean() < 1

    wrong = (values(short) > 0.5) != truth
    assert np.any(wrong & real)
    shallow = np.asarray(obs.depth < env.max_depth)
    assert not np.any(wrong & real & shallow)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gnn", "recurrent"])
def test_block_without_means_is_the_block_with_zero_mean_weights(family, alternating_stop):
    """mean_aggregates=False drops the fan-in and fan-out means: the same outputs as the full block
    whose mix weights on the two means are zero (so the features are concatenated in the same order)."""
    obs = varied_batch(alternating_stop)
    full = networks.make_network(CONFIGS[family], alternating_stop.env)
    cheap = networks.make_network(dataclasses.replace(CONFIGS[family], mean_aggregates=False), alternating_stop.env)
    params = init_params(family, alternating_stop, index(obs, 0))
    w = CONFIGS[family].width
    means = np.r_[2 * w : 3 * w, 6 * w : 7 * w]  # rows of [x, sum, mean, max, min, up_sum, up_mean]

    def mix_kernels(edit):
        return jax.tree_util.tree_map_with_path(
            lambda path, x: edit(x) if [getattr(k, "key", None) for k in path][-2:] == ["mix", "kernel"] else x, params
        )

    zeroed = mix_kernels(lambda k: k.at[means].set(0.0))
    dropped = mix_kernels(lambda k: jnp.delete(k, means, axis=0))
    assert networks.param_count(dropped) < networks.param_count(params)
    assert jax.tree.structure(jax.eval_shape(cheap.init, KEY, index(obs, 0))) == jax.tree.structure(dropped)
    want = jax.jit(jax.vmap(full.apply, in_axes=(None, 0)))(zeroed, obs)
    got = jax.jit(jax.vmap(cheap.apply, in_axes=(None, 0)))(dropped, obs)
    for a, b in zip(want, got):
        assert_matmul_close(b, a)
    # Not vacuous: with its mean weights the full block gives other outputs.
    assert not np.allclose(jax.jit(jax.vmap(full.apply, in_axes=(None, 0)))(params, obs)[0], want[0])


def test_validate():
    networks.validate(NetworkConfig())
    for family in networks.FAMILIES:
        networks.validate(CONFIGS[family])
    bad = [
        (NetworkConfig(family="transformer"), "family must be one of mlp"),
        (NetworkConfig(family="mlp", depth=6), "multiple of 4"),
        (NetworkConfig(family="mlp", depth=0), "multiple of 4"),
        (NetworkConfig(family="gnn", depth=0), "gnn depth"),
        (NetworkConfig(family="gnn", depth=100_000), r"gnn depth .* in 1\.\.64,"),  # each block is unrolled
        (NetworkConfig(family="mlp", depth=100_000), "at most 64,"),
        (NetworkConfig(family="gnn", depth=65), r"gnn depth .* in 1\.\.64, got 65"),  # see docs/reliability.md: compile time by depth
        (NetworkConfig(family="mlp", depth=68), "at most 64, got 68"),
        (NetworkConfig(width=0), "width"),
        (NetworkConfig(family="recurrent", max_iterations=0), "max_iterations"),
        (NetworkConfig(family="recurrent", iterations_per_depth=-1.0), "iterations_per_depth"),
        (NetworkConfig(family="recurrent", extra_iterations=-1), "extra_iterations"),
        (NetworkConfig(family="gnn", mean_aggregates="no"), "mean_aggregates"),
    ]
    for config, words in bad:
        with pytest.raises(ValueError, match=words) as err:
            networks.validate(config)
        assert "\n" not in str(err.value)
        with pytest.raises(ValueError, match=words):
            networks.make_network(config, AlternatingCircuit(RandomAlternating(n_inputs=3, depth=3, width=3)))
