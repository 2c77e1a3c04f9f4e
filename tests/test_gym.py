"""Gymnasium front ends: spaces, check_env, seeding, make kwargs, vector env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector.vector_env import AutoresetMode

import do1rl  # noqa: F401  (registers the ids)
from do1rl.envs.gym_env import CircuitGymEnv, CircuitVectorEnv
from do1rl.envs.make import EnvArgumentError, make
from do1rl.registration import register_envs

SMALL = dict(n_inputs=3, depth=3, width=3)


@pytest.fixture(scope="module")
def gym_do1(do1):
    return CircuitGymEnv(do1.env)


@pytest.fixture(scope="module")
def gym_alt_stop(alternating_stop):
    return CircuitGymEnv(alternating_stop.env)


def rollout(env, seed, steps, rng):
    """Random legal actions; returns everything the env returned."""
    out = [env.reset(seed=seed)]
    for _ in range(steps):
        a = int(rng.choice(np.flatnonzero(env.action_masks())))
        obs, r, term, trunc, info = env.step(a)
        out.append((obs, r, term, trunc, info))
        if term:
            out.append(env.reset())
    return out


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_check_env(gym_do1, gym_alt_stop, do1_stop):
    check_env(gym_do1, skip_render_check=True)
    check_env(gym_alt_stop, skip_render_check=True)
    check_env(CircuitGymEnv(do1_stop.env), skip_render_check=True)


def test_observations_within_space(gym_do1, gym_alt_stop):
    rng = np.random.default_rng(0)
    for env in (gym_do1, gym_alt_stop):
        for item in rollout(env, seed=1, steps=30, rng=rng):
            obs = item[0]
            assert env.observation_space.contains(obs), {k: (v.dtype, v.shape) for k, v in obs.items()}
            for k, space in env.observation_space.spaces.items():
                assert obs[k].dtype == space.dtype, k


def test_action_masks_and_invalid_actions(gym_do1):
    env = gym_do1
    _, info = env.reset(seed=0)
    assert set(info) == {"optimal_return", "circuit_depth", "horizon"}
    mask = env.action_masks()
    assert mask.dtype == bool and mask.shape == (env.action_space.n,)
    assert not mask[env.env.noop_action]
    _obs, r, term, trunc, info = env.step(env.env.noop_action)  # masked at t = 0
    assert info["invalid_action"] is True and r == 0.0 and not term and not trunc
    assert isinstance(r, float) and isinstance(term, bool)
    for bad in (-1, env.action_space.n, 10**9):
        with pytest.raises(ValueError, match=rf"action {bad}.*Discrete\({env.action_space.n}\)"):
            env.step(bad)
    a = int(np.flatnonzero(env.action_masks())[0])
    _, _, _, _, info = env.step(a)
    assert info["invalid_action"] is False
    assert env.optimal_value() <= info["optimal_return"]


def test_seeding_is_reproducible(gym_do1, do1):
    runs = [rollout(gym_do1, 5, 25, np.random.default_rng(7)) for _ in range(2)]
    runs.append(rollout(CircuitGymEnv(do1.env), 5, 25, np.random.default_rng(7)))
    assert_same(runs[0], runs[1])
    assert_same(runs[0], runs[2])
    firsts = {gym_do1.reset(seed=s)[0]["node_type"].tobytes() for s in range(6)}
    assert len(firsts) > 1


def test_make_with_kwargs():
    env = gym.make("do1rl/DO1-v0", **SMALL, stop_action=True, chain_length=2, p_one=0.7)
    inner = env.unwrapped
    assert isinstance(inner, CircuitGymEnv)
    assert inner.env.stop_action and inner.env.chain_length == 2
    assert inner.env.num_nodes == 3 + 9 + 3
    assert inner.env.generator.p_one == 0.7
    _, _info = env.reset(seed=0)
    assert env.observation_space.contains(env.reset(seed=1)[0])
    alt = gym.make("do1rl/AlternatingCircuit-v0", depth=2, width=2, n_inputs=2)
    assert alt.unwrapped.env.num_nodes == 6
    env.close()
    alt.close()


def test_make_rejects_unknown_kwargs():
    with pytest.raises(TypeError, match=r"'dpeth'.*valid keywords are: n_inputs, depth"):
        gym.make("do1rl/DO1-v0", dpeth=3)
    with pytest.raises(TypeError, match="chain_length"):
        gym.make("do1rl/AlternatingCircuit-v0", chain_length=3)
    with pytest.raises(ValueError, match="circuit_files cannot be combined"):
        gym.make("do1rl/DO1-v0", circuit_files=["x.json"], depth=2)
    with pytest.raises(EnvArgumentError, match="p_one"):
        make("do1rl/DO1-v0", p_one=2.0)
    with pytest.raises(EnvArgumentError, match="valid ids"):
        make("DO2")
    env, params = make("DO1", **SMALL)
    assert env.num_actions == 17 and params.generator == env.generator


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"depth": "x" * 10**6}, "depth must be an integer"),
        ({"depths": list(range(10**5))}, "depths must be a non-empty list"),
        ({"dpeth": 3, "n_inputs": "y" * 10**5}, "unknown keyword argument(s) 'dpeth'"),
        ({"render_mode": "z" * 10**5}, "is not supported"),
        ({"p_one": [0.5] * 10**5, "note": "a\nb"}, "unknown keyword argument(s) 'note'"),
    ],
)
def test_huge_keywords_give_a_bounded_line(kwargs, reason):
    """Attack battery: gymnasium re-raises our TypeError with every keyword echoed (a megabyte for depth="x" * 10**6).

    `EnvArgumentError` cuts gymnasium's echo (`make.MAX_ECHO`); the line keeps our reason, the id and the start of
    the keywords, and stays one line, for `make` and `make_vec` alike.
    """
    from do1rl.envs.make import MAX_ECHO

    for vector in (False, True):
        with pytest.raises(EnvArgumentError) as err:
            gym.make_vec("do1rl/DO1-v0", 2, **kwargs) if vector else gym.make("do1rl/DO1-v0", **kwargs)
        line = str(err.value)
        assert reason in line and "\n" not in line, line[:500]
        assert len(line) <= 1000 + MAX_ECHO, len(line)
        if not vector:  # gymnasium.make wrapped it: the echo is there, cut
            assert "was raised from the environment creator for do1rl/DO1-v0 with kwargs ({" in line


def test_make_with_circuit_files(tmp_path):
    pytest.importorskip("do1rl.core.circuit_file")
    p = tmp_path / "c.json"
    p.write_text('{"format": "do1rl.circuit/v1", "inputs": [1, 0], "gates": [{"op": "OR", "in": [0, 1]}, {"op": "AND", "in": [2, 0]}]}')
    env = gym.make("do1rl/DO1-v0", circuit_files=[str(p)], chain_length=1)
    _, info = env.reset(seed=0)
    assert info["optimal_return"] == 2 and info["horizon"] == 2
    env.close()


def test_register_is_idempotent():
    register_envs()
    register_envs()
    assert "do1rl/DO1-v0" in gym.registry and "do1rl/AlternatingCircuit-v0" in gym.registry


@pytest.mark.slow
def test_vector_env_matches_single_env(do1):
    n = 3
    venv = CircuitVectorEnv(do1.env, n)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    singles = [CircuitGymEnv(do1.env) for _ in range(n)]
    obs, _ = venv.reset(seed=10)
    single_obs = [e.reset(seed=10 + i)[0] for i, e in enumerate(singles)]
    rng = np.random.default_rng(0)
    needs_reset = [False] * n
    finished = 0
    for _ in range(25):
        assert venv.observation_space.contains(obs)
        for i in range(n):
            assert_same({k: v[i] for k, v in obs.items()}, single_obs[i])
        masks = venv.action_masks()
        assert masks.dtype == bool and masks.shape == (n, venv.single_action_space.n)
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, rewards, terms, truncs, infos = venv.step(actions)
        assert not truncs.any() and infos["_invalid_action"].all()
        for i, e in enumerate(singles):
            if needs_reset[i]:  # next-step autoreset
                single_obs[i] = e.reset()[0]
                assert rewards[i] == 0.0 and not terms[i]
                needs_reset[i] = False
                continue
            single_obs[i], r, term, _, info = e.step(int(actions[i]))
            assert rewards[i] == r and terms[i] == term
            assert infos["optimal_return"][i] == info["optimal_return"]
            needs_reset[i] = term
            finished += term
    assert finished >= n
    with pytest.raises(ValueError, match="not in the action space"):
        venv.step(np.full(n, venv.single_action_space.n))


def test_make_vec():
    venv = gym.make_vec("do1rl/AlternatingCircuit-v0", num_envs=2, **SMALL)
    assert isinstance(venv, CircuitVectorEnv) and venv.num_envs == 2
    obs, _ = venv.reset(seed=0)
    obs2, _ = venv.reset(seed=0)
    assert_same(obs, obs2)
    assert venv.observation_space.contains(obs)
    venv.close()


def test_observations_suit_flattening_learners(gym_do1):
    """SB3-style extractors flatten each entry per sample: every entry needs a dim, and arrays must be writable."""
    for name, space in gym_do1.observation_space.spaces.items():
        assert len(space.shape) >= 1, name
    obs, _ = gym_do1.reset(seed=0)
    flat = gym.spaces.flatten(gym_do1.observation_space, obs)
    assert flat.shape == (gym.spaces.flatdim(gym_do1.observation_space),)
    assert all(x.flags.writeable for x in obs.values())
    assert gym_do1.action_masks().flags.writeable


# ----- issue 15: the ecosystem as users try it ------------------------------------
def test_render_modes_work_and_unsupported_ones_raise_type_error():
    """SB3's make_vec_env passes render_mode="rgb_array" and retries only on TypeError."""
    env = gym.make("do1rl/DO1-v0", render_mode="rgb_array", **SMALL)
    env.reset(seed=0)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    text = gym.make("do1rl/DO1-v0", render_mode="ansi", **SMALL)
    text.reset(seed=0)
    assert "depth" in text.render()
    with pytest.raises(TypeError, match="render_mode='human' is not supported"):
        gym.make("do1rl/DO1-v0", render_mode="human", **SMALL)
    assert gym.make("do1rl/DO1-v0", **SMALL).render() is None


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_render_before_reset_raises_reset_needed_like_step(mode):
    """Gymnasium's OrderEnforcing raises ResetNeeded here; `gym.make` returns our env unwrapped, so it raises itself."""
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        gym.make("do1rl/DO1-v0", render_mode=mode, **SMALL).render()
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        gym.make_vec("do1rl/DO1-v0", num_envs=2, render_mode=mode, **SMALL).render()


def test_gym_make_returns_env_with_action_masks():
    """sb3-contrib's get_action_masks(env) calls env.action_masks() on what gym.make returned."""
    env = gym.make("do1rl/DO1-v0", **SMALL)
    env.reset(seed=0)
    mask = env.action_masks()
    assert mask.dtype == bool and mask.any()
    np.testing.assert_array_equal(env.unwrapped.action_masks(), mask)
    np.testing.assert_array_equal(env.get_wrapper_attr("action_masks")(), mask)


def test_envs_pickle_and_share_compiled_functions(gym_do1):
    import pickle

    a = gym.make("do1rl/DO1-v0", **SMALL)
    b = gym.make("do1rl/DO1-v0", **SMALL)
    assert a.unwrapped._fns is b.unwrapped._fns  # one compile per configuration
    assert gym.make("do1rl/DO1-v0", stop_action=True, **SMALL).unwrapped._fns is not a.unwrapped._fns
    a.reset(seed=3)
    a.step(int(np.flatnonzero(a.action_masks())[0]))
    clone = pickle.loads(pickle.dumps(a))
    action = int(np.flatnonzero(a.action_masks())[-1])
    assert_same(clone.step(action), a.step(action))
    venv = gym.make_vec("do1rl/DO1-v0", num_envs=2, **SMALL)
    venv.reset(seed=0)
    vclone = pickle.loads(pickle.dumps(venv))
    assert_same(vclone.action_masks(), venv.action_masks())


def test_reset_options_apply_or_raise(gym_do1):
    for k in (1, 2, 3):
        gym_do1.reset(seed=0, options={"chain_length": k})
        assert int(gym_do1.state.chain_length) == k
    gym_do1.reset(seed=0)
    assert gym_do1._fns.reset._cache_size() == 1  # options change values, never the compiled shape
    with pytest.raises(ValueError, match="unknown reset option"):
        gym_do1.reset(seed=0, options={"chain_lenght": 2})
    with pytest.raises(ValueError, match=r"chain_length must be an integer in 0\.\.3"):
        gym_do1.reset(seed=0, options={"chain_length": 4})
    alt = gym.make("do1rl/AlternatingCircuit-v0", **SMALL)
    with pytest.raises(ValueError, match="valid options: none"):
        alt.reset(seed=0, options={"chain_length": 2})
    venv = gym.make_vec("do1rl/DO1-v0", num_envs=2, **SMALL)
    venv.reset(seed=0, options={"chain_length": 2})
    assert (np.asarray(venv.state.chain_length) == 2).all()


def test_vector_env_rejects_float_bool_and_fractional_counts():
    venv = gym.make_vec("do1rl/DO1-v0", num_envs=2, **SMALL)
    venv.reset(seed=0)
    for bad in (np.array([1.0, 2.0]), np.array([True, False])):
        with pytest.raises(ValueError, match="not in the action space"):
            venv.step(bad)
    single = gym.make("do1rl/DO1-v0", **SMALL)
    single.reset(seed=0)
    for bad in (1.0, True, np.float32(1)):
        with pytest.raises(ValueError, match="not in the action space"):
            single.step(bad)
    with pytest.raises(ValueError, match="num_envs must be an integer"):
        gym.make_vec("do1rl/DO1-v0", num_envs=2.5, **SMALL)


def test_mask_ignoring_learner_is_warned_once(monkeypatch):
    from do1rl.envs import gym_env

    monkeypatch.setattr(gym_env, "_mask_warned", False)
    env = gym.make("do1rl/AlternatingCircuit-v0", **SMALL)
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="ignores the action mask"):
        for _ in range(gym_env._MASK_WARN_STEPS):  # node 0 is a circuit input: always masked
            *_, term, _trunc, _info = env.step(0)
            if term:
                env.reset()
    assert gym_env._mask_warned


_ASYNC = """
import gymnasium as gym, do1rl, sys
kw = dict(n_inputs=3, depth=3, width=3)
try:
    v = gym.make_vec("do1rl/DO1-v0", num_envs=2, vectorization_mode="async", vector_kwargs=dict({}), **kw)
    v.reset(seed=0)
    print("ran")
except Exception as e:
    print("raised", type(e).__name__, e)
"""


@pytest.mark.slow
@pytest.mark.parametrize("context", [None, "spawn"])
def test_async_vectorisation_never_hangs(context):
    """Default fork context: one clear error in the parent before any worker starts, never a hang; spawn: it runs."""
    import multiprocessing
    import subprocess
    import sys

    code = _ASYNC.replace("dict({})", repr({} if context is None else {"context": context}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    if context is None and multiprocessing.get_start_method() == "fork":
        assert "raised ValueError" in out.stdout and "cannot run in forked worker processes" in out.stdout
        assert "Traceback" not in out.stderr, out.stderr[-2000:]  # no worker traceback, no ConnectionResetError
    else:
        assert "ran" in out.stdout, out.stderr[-2000:]


def test_module_prefix_id_works_in_a_fresh_interpreter():
    """What a spawned worker (SubprocVecEnv) sees: no `import do1rl`; the "do1rl:" prefix imports it."""
    import subprocess
    import sys

    code = (
        "import gymnasium as gym\n"
        "env = gym.make('do1rl:do1rl/DO1-v0', n_inputs=2, depth=2, width=2)\n"
        "obs, _ = env.reset(seed=0)\n"
        "print(sorted(obs)[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "action_mask"


_SB3_SPAWN = """
import numpy as np
import gymnasium as gym
from stable_baselines3.common.vec_env import SubprocVecEnv

def make_env():  # what a worker calls: it has never imported do1rl
    return gym.make("do1rl:do1rl/AlternatingCircuit-v0", n_inputs=3, depth=3, width=3)

if __name__ == "__main__":
    venv = SubprocVecEnv([make_env, make_env], start_method="spawn")
    obs = venv.reset()
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(12):
        masks = np.stack(venv.env_method("action_masks"))
        obs, rewards, dones, infos = venv.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
        for r, d, info in zip(rewards, dones, infos):
            assert 0 <= r <= info["optimal_return"]
            episodes += int(d)
    venv.close()
    print("episodes", episodes)
"""


@pytest.mark.slow
def test_sb3_subprocvecenv_with_spawn_runs_the_module_prefix_id(tmp_path):
    """SB3's SubprocVecEnv (spawn): each worker finds the env through the "do1rl:" prefix (skipped without SB3)."""
    pytest.importorskip("stable_baselines3")
    import subprocess
    import sys

    script = tmp_path / "sb3_spawn.py"  # spawn re-imports the main module: it must be a file
    script.write_text(_SB3_SPAWN)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) >= 2  # depth-3 episodes end within 12 steps in both workers
    assert "Traceback" not in out.stderr


def test_a_vector_env_too_large_for_memory_is_one_line():
    """Attack battery #15: num_envs=10**9 raised numpy's MemoryError traceback at reset."""
    with pytest.raises(EnvArgumentError, match=r"num_envs=1000000000 needs about .* GiB of env states"):
        gym.make_vec("do1rl/DO1-v0", num_envs=10**9, **SMALL)
