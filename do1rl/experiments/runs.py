"""Run folders: where a training run keeps its files, the lock that keeps them one run's, and loading a trained agent."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from do1rl.agents.algorithms import ALGORITHMS
from do1rl.agents.networks import RECURRENT_FAMILIES, NetworkConfig, make_network, serial_depth
from do1rl.core.checks import is_integer
from do1rl.experiments import config as config_lib
from do1rl.experiments.global_checkpoint import restore_latest
from do1rl.experiments.train_config import TrainConfig
from do1rl.experiments.trainer import build, seed_keys

LOCK = ".lock"  # flock'ed by the process writing the folder; the file itself means nothing


class RunFolderError(ValueError):
    """A run folder that cannot be written: in use by another process, or not creatable (one line)."""


@contextlib.contextmanager
def lock_folder(folder: str | Path) -> Iterator[Path]:
    """Holds an exclusive OS lock (`flock`) on `folder` for the block; creates the folder.

    A second process locking the same folder gets RunFolderError at once.
    The lock dies with the process, so a crash or kill -9 leaves no stale
    lock behind (the `.lock` file stays, unlocked and harmless).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise RunFolderError(f"{folder}: cannot create or write the folder ({err.strerror or err})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise RunFolderError(
                f"{folder}: in use by another do1rl process (pid {holder}); wait for it or choose another folder"
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)


class TrainedAgent(NamedTuple):
    """A trained actor-critic loaded from a run folder (one seed).

    Attributes:
      config: the run's TrainConfig.
      env, env_params: the environment it was trained on.
      params: that seed's network parameters.
      apply: `apply(obs) -> (logits[A], value[])` for one observation, the
        value in return units (depths), whatever reward scaling training used.
      serial_depth: `serial_depth(obs) -> int32[]`, layer applications per decision.
      policy: `policy(greedy=True)` -> evaluator policy `(key, obs, state) -> action`.
    """

    config: TrainConfig
    env: Any
    env_params: Any
    params: Any
    apply: Any
    serial_depth: Any
    policy: Any


def load_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise config_lib.ConfigError(f"{run_dir}: not a training run (no config.yaml)")
    return config_lib.load(TrainConfig, path)


def _unscaled(out, scale: float):
    logits, value = out
    return logits, value * scale


def with_iterations(network: NetworkConfig, iterations: int) -> NetworkConfig:
    """The recurrent `network` forced to exactly `iterations` block applications per decision.

    The block is weight-tied, so the trained parameters serve any count:
    this is how a trained recurrent net "thinks longer" at test time.
    """
    if network.family not in RECURRENT_FAMILIES:
        raise ValueError(f"test-time iterations need a recurrent network, not {network.family!r}")
    if not is_integer(iterations) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    return dataclasses.replace(network, iterations_per_depth=0.0, extra_iterations=iterations, max_iterations=iterations)


class TrainedRun(NamedTuple):
    """Every seed of a run folder's latest checkpoint.

    Attributes:
      config: the run's TrainConfig (its network with forced iterations, if asked).
      env, env_params: the environment it was trained on.
      learner: the run's algorithm (e.g. `PPO`), whose `policy(params)` acts with the network.
      params: the network parameters, with a leading seed axis.
    """

    config: TrainConfig
    env: Any
    env_params: Any
    learner: Any
    params: Any


def with_max_iterations(network: NetworkConfig, cap: int) -> NetworkConfig:
    """The recurrent `network` with T capped at `cap` instead of its trained cap (the rule T(obs) is kept)."""
    if network.family not in RECURRENT_FAMILIES:
        raise ValueError(f"a cap on iterations needs a recurrent network, not {network.family!r}")
    if not is_integer(cap) or cap < 1:
        raise ValueError(f"max_iterations must be an integer >= 1, got {cap!r}")
    return dataclasses.replace(network, max_iterations=int(cap))


def with_iterations_per_depth(network: NetworkConfig, per_depth: float, test_depth: int) -> NetworkConfig:
    """The recurrent `network` run for T = ceil(per_depth * D_obs) iterations (no extra, capped at D = `test_depth`)."""
    if network.family not in RECURRENT_FAMILIES:
        raise ValueError(f"test-time iterations need a recurrent network, not {network.family!r}")
    cap = max(int(np.ceil(per_depth * test_depth)), 1)
    return dataclasses.replace(network, iterations_per_depth=float(per_depth), extra_iterations=0, max_iterations=cap)


def same_shapes(env, other) -> bool:
    """Whether two envs give observations and actions of the same shapes (one trained network's input)."""
    return env.observation_shapes() == other.observation_shapes() and env.num_actions == other.num_actions


def retarget(run: TrainedRun, env, env_params, network: NetworkConfig | None = None) -> TrainedRun:
    """`run` rebuilt to act on another env (e.g. deeper circuits than its training pad), params unchanged.

    Graph networks (gnn, recurrent, bottleneck) have no parameter whose shape
    depends on the circuit's size; their depth and horizon features keep the
    training env's scale (`networks.env_dims(scales_of=)`). The mlp reads a
    fixed-size input, so it only runs on envs of its training shapes
    (ValueError otherwise). `network` replaces the run's (e.g. forced T).
    """
    network = run.config.network if network is None else network
    if network.family == "mlp" and not same_shapes(env, run.env):
        raise ValueError("the mlp reads a fixed-size observation: it runs only on envs of its training shapes")
    module = make_network(network, env, node_values=_node_values(run.config), scales_of=run.env)
    config = dataclasses.replace(run.config, network=network)
    return TrainedRun(config, env, env_params, _learner(config, env, env_params, module), run.params)


def load_run(run_dir: str | Path, iterations: int | None = None, max_iterations: int | None = None) -> TrainedRun:
    """The trained parameters of every seed of a run.

    `iterations` forces a recurrent net's T; `max_iterations` replaces its cap
    on T (e.g. lifts a cap that only bounded training compute).
    """
    config = load_config(run_dir)
    env, env_params, _, learner = build(config)
    shape = jax.eval_shape(learner.init_seeds, seed_keys(config))
    state, _ = restore_latest(run_dir, shape, config)  # msgpack or orbax, whichever format the run has
    network = config.network
    if max_iterations is not None:
        network = with_max_iterations(network, max_iterations)
    if iterations is not None:
        network = with_iterations(network, iterations)
    if network != config.network:
        config = dataclasses.replace(config, network=network)
        learner = _learner(config, env, env_params, make_network(network, env, node_values=_node_values(config)))
    return TrainedRun(config, env, env_params, learner, jax.device_put(state.params))


def _node_values(config: TrainConfig) -> bool:
    return ALGORITHMS[config.algo].node_values(config.learner)


def _learner(config: TrainConfig, env, env_params, network):
    """The run's algorithm acting with `network` (no curriculum: it only plays)."""
    return ALGORITHMS[config.algo].make(env, env_params, network, config.learner)


def load_agent(run_dir: str | Path, seed_index: int = 0, iterations: int | None = None, max_iterations: int | None = None) -> TrainedAgent:
    """The trained agent of seed `seed_index` from a run folder's latest checkpoint.

    `iterations` forces a recurrent net's T (see `with_iterations`); None keeps
    the trained rule. `max_iterations` replaces its cap (`with_max_iterations`).
    """
    num_seeds = load_config(run_dir).num_seeds
    if not 0 <= seed_index < num_seeds:
        raise ValueError(f"{run_dir}: seed index must be in 0..{num_seeds - 1}, got {seed_index}")
    config, env, env_params, learner, all_params = load_run(run_dir, iterations, max_iterations)
    params = jax.tree.map(lambda x: x[seed_index], all_params)
    network = learner.network
    value_scale = 1.0 / learner.reward_scale  # the critic learnt scaled returns
    return TrainedAgent(
        config=config,
        env=env,
        env_params=env_params,
        params=params,
        apply=lambda obs: _unscaled(network.apply(params, obs), value_scale),
        serial_depth=lambda obs: serial_depth(config.network, env, obs),
        policy=lambda greedy=True: learner.policy(params, greedy=greedy),
    )
