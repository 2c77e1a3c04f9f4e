"""Instances that force serial computation: the biregular family, twins, one-shot play, forced-choice scores."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from do1rl.agents.baselines import oracle_policy
from do1rl.core import circuit_file, solver
from do1rl.core.biregular import LayeredBiregular, save_instances
from do1rl.core.circuit import AND, OR
from do1rl.core.reference import certificate_depths, circuit_to_lists, evaluate
from do1rl.core.twins import twins
from do1rl.envs import DO1, AlternatingCircuit
from do1rl.envs.instances import per_instance_params, pool_from_circuits
from do1rl.envs.make import EnvArgumentError, make
from do1rl.envs.types import CHAIN, MAIN
from do1rl.evaluation import Episodes, metrics
from do1rl.evaluation import evaluate as evaluate_policy

DEPTH, WIDTH, K = 5, 3, 2


@pytest.fixture(scope="module")
def plain_batch():
    gen = LayeredBiregular(width=WIDTH, depth=DEPTH, k=K, stratify_d1=False)
    keys = jax.random.split(jax.random.key(0), 64)
    batch = jax.device_get(jax.jit(jax.vmap(gen))(keys))
    return gen, [jax.tree.map(lambda x, i=i: x[i], batch) for i in range(64)]


def wl_colours(lists, rounds):
    """Plain-Python 1-WL over (inputs, ops, fanins): fan-in and fan-out multisets kept apart."""
    inputs, ops, fanins = lists
    n = len(inputs)
    total = n + len(ops)
    _, depth, _ = evaluate(inputs, ops, fanins)
    readers = [[] for _ in range(total)]
    for g, srcs in enumerate(fanins):
        for s in srcs:
            readers[s].append(n + g)
    kind = [("IN", b) for b in inputs] + [(op, None) for op in ops]
    colour = [repr((kind[x], depth[x])) for x in range(total)]
    for _ in range(rounds):
        children = [sorted(colour[s] for s in fanins[x - n]) if x >= n else [] for x in range(total)]
        colour = [repr((colour[x], children[x], sorted(colour[r] for r in readers[x]))) for x in range(total)]
    return colour, depth


# ----- the biregular family ----------------------------------------------------
@pytest.mark.slow
def test_biregular_degrees_alternation_and_cert(plain_batch):
    _, circuits = plain_batch
    for c in circuits:
        inputs, ops, fanins, _ = circuit_to_lists(np.asarray(c.node_type), np.asarray(c.fanin))
        assert len(inputs) == WIDTH and len(ops) == WIDTH * DEPTH
        fanout = np.zeros(len(inputs) + len(ops), int)
        for g, srcs in enumerate(fanins):
            assert len(srcs) == K
            np.add.at(fanout, srcs, 1)
            depth_g = g // WIDTH + 1
            assert all((s - WIDTH) // WIDTH + 1 == depth_g - 1 if s >= WIDTH else depth_g == 1 for s in srcs)
            assert all(s < WIDTH or ops[s - WIDTH] != ops[g] for s in srcs)  # alternation
        np.testing.assert_array_equal(fanout[: WIDTH * DEPTH], K)  # all but the top layer
        np.testing.assert_array_equal(fanout[WIDTH * DEPTH :], 0)
        cert, cert_d1 = certificate_depths(inputs, ops, fanins)
        _, depth, _ = evaluate(inputs, ops, fanins)
        assert cert == depth and cert_d1 == DEPTH  # every gate's certificate is its depth
        sol = solver.solve(c)
        assert int(sol.cert_d1) == DEPTH


def test_colour_refinement_cannot_split_deep_layers(plain_batch):
    """After L rounds every gate deeper than L has its layer's colour, on every instance."""
    _, circuits = plain_batch
    for L in (1, 2, 3):
        by_layer = {}
        for c in circuits[:16]:
            lists = circuit_to_lists(np.asarray(c.node_type), np.asarray(c.fanin))[:3]
            colour, depth = wl_colours(lists, L)
            for x in range(len(colour)):
                if depth[x] > L:
                    by_layer.setdefault((depth[x], lists[1][x - WIDTH]), set()).add(colour[x])
        assert by_layer and all(len(s) == 1 for s in by_layer.values())
        # ... while at depth <= L the colours do split somewhere (the test can fail).
    lists = circuit_to_lists(np.asarray(circuits[0].node_type), np.asarray(circuits[0].fanin))[:3]
    colour, depth = wl_colours(lists, DEPTH + 1)
    assert len({colour[x] for x in range(len(colour)) if depth[x] == 1}) > 1 or len(set(lists[0])) == 1


def test_stratified_d1_is_uniform():
    gen = LayeredBiregular(width=WIDTH, depth=4, k=K, candidates=16, max_rounds=32)
    keys = jax.random.split(jax.random.key(1), 500)
    d1 = np.asarray(jax.jit(jax.vmap(lambda key: solver.solve(gen(key)).d1))(keys))
    freq = np.bincount(d1, minlength=5) / d1.size
    # 500 draws: each bin's standard error is about 0.018.
    np.testing.assert_allclose(freq, 0.2, atol=0.07)
    plain = np.asarray(jax.jit(jax.vmap(lambda key: solver.solve(gen.sample(key)).d1))(keys))
    assert np.abs(np.bincount(plain, minlength=5) / plain.size - 0.2).max() > 0.1  # stratifying changes it


def test_biregular_jit_vmap_files(tmp_path, plain_batch):
    gen, circuits = plain_batch
    one = gen(jax.random.split(jax.random.key(0), 64)[3])
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(circuits[3])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    paths = save_instances(gen, 0, 3, tmp_path)
    for i, path in enumerate(paths):
        loaded, _ = circuit_file.load(path)
        assert int(solver.solve(loaded).d1) == int(solver.solve(circuits[i]).d1)
        assert int(solver.solve(loaded).cert_d1) == DEPTH


# ----- make, one-shot -----------------------------------------------------------
def test_make_family_and_one_shot_validation():
    env, _ = make("DO1", family="biregular", depth=4, width=3, k=2, max_selections=1)
    assert isinstance(env.generator, LayeredBiregular) and env.max_selections == 1
    for bad in (
        dict(family="grid"),
        dict(family="biregular", n_inputs=3),
        dict(k=2),
        dict(max_selections=0),
        dict(family="biregular", stratify_d1="yes"),
    ):
        with pytest.raises(EnvArgumentError):
            make("DO1", **bad)


@pytest.mark.parametrize("env_cls", [AlternatingCircuit, DO1])
def test_one_shot_ends_at_first_selection(env_cls):
    env = env_cls(LayeredBiregular(width=WIDTH, depth=3, k=K, stratify_d1=False), max_selections=1)
    obs, state = env.reset(jax.random.key(0))
    assert int(state.cert_depth) == 3
    gate = int(np.flatnonzero(np.asarray(obs.action_mask[: env.num_nodes]))[-1])
    _, state, reward, done, _, _ = env.step(jax.random.key(1), state, gate)
    assert bool(done) and int(state.steps_left) == 0
    expected = int(state.depth[gate]) if bool(state.value[gate]) else 0
    assert float(reward) == expected
    if env_cls is DO1:
        report = evaluate_policy(env, env.default_params, oracle_policy, episodes=16)
        assert report["mean_regret"] == 0.0  # the optimum is reachable in one shot
        assert report["first_choice"]["accuracy"] == 1.0


# ----- forced-choice metrics ------------------------------------------------------
def test_first_choice_metrics_by_hand():
    eps = Episodes(
        returns=np.array([3.0, 0.0, 2.0, 4.0]),
        optimal=np.array([3, 4, 2, 4]),
        circuit_depth=np.array([4, 4, 6, 6]),
        length=np.array([1, 1, 1, 1]),
        d1=np.array([3, 4, 1, 2]),
        cert_d1=np.array([4, 2, 6, 6]),
        chain_length=np.array([2, 1, 2, 4]),
        first_circuit=np.array([MAIN, CHAIN, CHAIN, MAIN]),
    )
    fc = metrics(eps)["first_choice"]
    assert fc["accuracy"] == 0.5  # right: 0 (3 >= 2) and 2 (k=2 >= 1); wrong: 1, 3
    assert fc["mean_forced_regret"] == pytest.approx((0 + 3 + 0 + 2) / 4)
    assert fc["by_gap"]["1"]["accuracy"] == 1.0 and fc["by_gap"]["3"]["accuracy"] == 0.0
    assert fc["by_gap"]["2"]["max_forced_regret"] == 2.0
    assert fc["by_cert_d1"]["6"]["episodes"] == 2
    report = metrics(eps)
    assert set(report["by_depth_cert"]) == {"4/4", "4/2", "6/6"}


def test_eval_cli_reports_first_choice_by_cert(capsys):
    from do1rl.cli import main

    code = main(
        ["eval", "--env", "DO1", "--agent", "greedy", "--episodes", "16", "--no-progress"]
        + [f"--env-arg={a}" for a in ("family=biregular", "depth=3", "width=3", "max_selections=1", "stratify_d1=false")]
    )
    out = capsys.readouterr().out
    assert code == 0 and "forced choice" in out and "cert(d1)" in out


# ----- twins -----------------------------------------------------------------------
TWIN_L = 2


@pytest.fixture(scope="module")
def twin_pair():
    """A biregular circuit and a twin for L = 2 whose 3-round colours differ somewhere."""
    gen = LayeredBiregular(width=4, depth=6, k=K, stratify_d1=False)
    for i in range(40):
        c = jax.device_get(gen(jax.random.key(i)))
        twin = twins(c, TWIN_L, seed=i)
        if twin is None:
            continue
        a = circuit_to_lists(np.asarray(c.node_type), np.asarray(c.fanin))[:3]
        b = circuit_to_lists(np.asarray(twin.node_type), np.asarray(twin.fanin))[:3]
        if wl_colours(a, TWIN_L + 1)[0] != wl_colours(b, TWIN_L + 1)[0]:
            return c, twin
    pytest.fail("no twin pair found")


def test_twins_keep_colours_change_d1(twin_pair):
    c, twin = twin_pair
    a = circuit_to_lists(np.asarray(c.node_type), np.asarray(c.fanin))[:3]
    b = circuit_to_lists(np.asarray(twin.node_type), np.asarray(twin.fanin))[:3]
    assert a[0] == b[0] and a[1] == b[1]  # the same node set
    assert wl_colours(a, TWIN_L)[0] == wl_colours(b, TWIN_L)[0]
    assert evaluate(*a)[2] != evaluate(*b)[2]
    assert np.all(np.isin(np.asarray(twin.node_type)[np.asarray(twin.depth) > 0], [AND, OR]))


@pytest.mark.slow
def test_gnn_with_l_blocks_cannot_tell_twins_apart(twin_pair):
    from do1rl.agents.networks import NetworkConfig, make_network

    pool = pool_from_circuits(list(twin_pair))
    env = AlternatingCircuit(pool)
    obs, _ = jax.vmap(env.reset, (0, 0))(jax.random.split(jax.random.key(0), 2), per_instance_params(pool))
    first = jax.tree.map(lambda x: x[0], obs)

    def outputs(config, seed):
        net = make_network(config, env)
        params = net.init(jax.random.key(seed), first)
        logits, value = jax.jit(jax.vmap(net.apply, (None, 0)))(params, obs)
        return np.asarray(logits), np.asarray(value)

    for seed in (0, 1):
        logits, value = outputs(NetworkConfig(family="gnn", depth=TWIN_L, width=16), seed)
        np.testing.assert_array_equal(logits[0], logits[1])
        np.testing.assert_array_equal(value[0], value[1])
    logits, value = outputs(NetworkConfig(family="gnn", depth=TWIN_L + 1, width=16), 0)
    assert not np.array_equal(logits[0], logits[1])
    recurrent = NetworkConfig(family="recurrent", width=16, iterations_per_depth=1.0, extra_iterations=1)
    logits, value = outputs(recurrent, 0)  # T = D + 1
    assert not np.array_equal(logits[0], logits[1]) and value[0] != value[1]


def test_sweep_rows_carry_first_choice_columns(plain_batch):
    from do1rl.experiments.sweep import rows_of

    choice = {"accuracy": 0.75, "mean_forced_regret": 0.5, "by_depth": {"4": {"accuracy": 0.5, "mean_forced_regret": 1.0}}}
    result = {
        "cell_id": "c",
        "agent": "greedy",
        "settings": {"train": {"env": {"id": "do1rl/DO1-v0", "args": {"depth": 4}}}},
        "info": {},
        "reports": [{"episodes": 2, "by_depth": {"4": {"episodes": 2}}, "first_choice": choice}],
    }
    rows = rows_of(result, "hard")
    assert [(r["depth_group"], r["first_choice_accuracy"], r["mean_forced_regret"]) for r in rows] == [
        ("all", 0.75, 0.5),
        ("4", 0.5, 1.0),
    ]


def test_solve_cli_prints_cert_d1(tmp_path, capsys):
    from do1rl.cli import main

    gen = LayeredBiregular(width=WIDTH, depth=DEPTH, k=K, stratify_d1=False)
    (path,) = save_instances(gen, 5, 1, tmp_path)
    assert main(["solve", str(path)]) == 0
    assert f'"cert_d1": {DEPTH}' in capsys.readouterr().out


@pytest.mark.slow
def test_env_state_cert_depth_is_the_solvers():
    from do1rl.core.generators import RandomAlternating

    gen = RandomAlternating(n_inputs=3, depth=4, width=3)
    env = AlternatingCircuit(gen)
    keys = jax.random.split(jax.random.key(2), 32)
    _, states = jax.vmap(env.reset, (0, None))(keys, env.default_params)
    expected = jax.vmap(lambda key: solver.solve(gen(key)).cert_d1)(keys)
    np.testing.assert_array_equal(np.asarray(states.cert_depth), np.asarray(expected))
    assert len(np.unique(np.asarray(expected))) > 1  # cert(d1) varies on this family
    assert "cert_depth" not in env.get_obs(jax.tree.map(lambda x: x[0], states))._fields


@pytest.mark.slow
def test_an_l_block_policy_chooses_alike_on_twins(twin_pair):
    """`twin_choice_report`: an untrained 2-block GNN picks the same circuit on both twins at every k;
    on the split cases (k strictly between the twins' d1) it is right exactly half the time."""
    import jax.numpy as jnp

    from do1rl.agents.masking import masked_logits
    from do1rl.agents.networks import NetworkConfig, make_network
    from do1rl.evaluation import make_player
    from do1rl.evaluation.twin_choices import twin_choice_report

    c, twin = twin_pair
    env, env_params = make("DO1", family="biregular", width=4, depth=6, k=K, max_selections=1)
    obs, _ = env.reset(jax.random.key(0), env_params)
    players = []
    for seed in (0, 1):
        net = make_network(NetworkConfig(family="gnn", depth=TWIN_L, width=16), env)
        params = net.init(jax.random.key(seed), obs)
        policy = lambda key, o, s, net=net, params=params: jnp.argmax(masked_logits(net.apply(params, o)[0], o.action_mask))
        players.append(make_player(env, policy))
    report = twin_choice_report(env, env_params, players, [(c, twin)], depth=6)
    assert report["pairs"] == 1 and report["same_choice"]["mean"] == 1.0
    if report["split_cases"]:
        assert report["accuracy_split"]["mean"] == 0.5


def test_fan_in_above_width_reads_some_node_twice():
    """k counts wires, not distinct nodes: k > width is a multigraph, solved like any circuit (issue 22)."""
    width, depth, k = 3, 4, 5
    gen = LayeredBiregular(width=width, depth=depth, k=k, stratify_d1=False)
    for key in jax.random.split(jax.random.key(2), 8):
        c = gen(key)
        inputs, ops, fanins = circuit_to_lists(np.asarray(c.node_type), np.asarray(c.fanin))[:3]
        assert all(len(srcs) == k and len(set(srcs)) < len(srcs) for srcs in fanins)  # pigeonhole: a repeat
        fanout = np.bincount([s for srcs in fanins for s in srcs], minlength=width * (depth + 1))
        np.testing.assert_array_equal(fanout[: width * depth], k)
        value, gate_depth, d1 = evaluate(inputs, ops, fanins)
        sol = solver.solve(c)
        n = len(value)
        np.testing.assert_array_equal(np.asarray(sol.value)[:n], value)
        np.testing.assert_array_equal(np.asarray(sol.depth)[:n], gate_depth)
        assert int(sol.d1) == d1
