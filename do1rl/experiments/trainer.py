"""`Trainer`: the jitted pieces of a run's algorithm, over seeds and sharded over devices (of one process or several)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from do1rl.agents.algorithms import ALGORITHMS
from do1rl.agents.networks import make_network, validate
from do1rl.envs.make import make
from do1rl.experiments.train_config import TrainConfig
from do1rl.sharding import check_device_count, global_mesh


def build(config: TrainConfig, devices: int = 1):
    """(env, env_params, network, learner) for a config; raises on a bad env or network.

    The learner is the config's algorithm (`agents.algorithms`, e.g. `PPO`).
    With a depth curriculum, `env_params` are its last level's (what
    evaluations play); the learner moves through the levels itself.

    Across several devices (`devices`, all processes together) a graph network
    is vmapped over observations (`flat=False`): the flat batch's global node
    indices hide from XLA that each device's rows only read its own rows, and
    it adds collectives to gather them.
    """
    env, env_params = make(config.env.id, **config.env.args)
    validate(config.network)
    algorithm = ALGORITHMS[config.algo]
    network = make_network(config.network, env, node_values=algorithm.node_values(config.learner))
    if devices > 1 and getattr(network, "flat", False):
        network = network.clone(flat=False)
    learner = algorithm.make(env, env_params, network, config.learner, curriculum=config.curriculum)
    return env, learner.final_params, network, learner


def seed_keys(config: TrainConfig) -> jax.Array:
    """One key per seed: seed i of a run uses fold_in(key(seed), i)."""
    base = jax.random.key(config.seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(np.arange(config.num_seeds))


def mesh_shardings(state: Any, devices: int):
    """Shardings placing each seed's env batch across `devices` devices of every process.

    Env states (and per-env accumulators) are split along the env axis;
    params, optimizer state, keys and counters are replicated, so XLA
    averages gradients across devices (and processes).
    """
    mesh = global_mesh(devices, "envs")
    P = jax.sharding.PartitionSpec
    split = jax.sharding.NamedSharding(mesh, P(None, "envs"))
    whole = jax.sharding.NamedSharding(mesh, P())
    per_env = {"env_state", "episode_return"}
    fields = {}
    for f in dataclasses.fields(state):
        place = split if f.name in per_env else whole
        fields[f.name] = jax.tree.map(lambda _, place=place: place, getattr(state, f.name))
    return type(state)(**fields), whole


class Trainer:
    """The compiled pieces of a run, over all seeds.

    Attributes:
      init: `init(seed_keys) -> state`, jitted.
      run_chunk: `run_chunk(state, n) -> (state, totals)`, n iterations of the algorithm, jitted (n static).
      learner: the algorithm (`agents.algorithms`), e.g. `PPO`.

    A Trainer depends on the env, network, algorithm settings, `num_seeds` and the
    devices, not on `seed`, `eval`, `log` or `plateau`: runs that differ only
    in those may share one (`training.train_run(trainer=)`) and its compiled code.
    """

    def __init__(self, config: TrainConfig, devices: int = 1):
        """`devices`: local devices per process; with several processes the mesh spans all of them."""
        self.config = config
        check_device_count(devices)
        total = devices * jax.process_count()
        self.env, self.env_params, self.network, self.learner = build(config, total)
        if config.learner.num_envs % total:
            raise ValueError(
                f"{config.algo}.num_envs ({config.learner.num_envs}) must be divisible by the number of devices "
                f"({devices} per process x {jax.process_count()} process(es))"
            )
        self.devices = devices
        self._greedy_player = None
        self._starts: dict = {}
        init = self.learner.init_seeds
        shape = jax.eval_shape(init, seed_keys(config))
        self.state_shape = shape
        if total > 1:
            self.shardings, replicated = mesh_shardings(shape, devices)
            self.init = jax.jit(init, out_shardings=self.shardings)
            self.run_chunk = jax.jit(
                jax.vmap(self.learner.run, in_axes=(0, None)),
                static_argnums=1,
                in_shardings=(self.shardings,),
                out_shardings=(self.shardings, replicated),
            )
        else:
            self.shardings = None
            self.init = jax.jit(init)
            self.run_chunk = jax.jit(jax.vmap(self.learner.run, in_axes=(0, None)), static_argnums=1)

    def greedy_player(self):
        """`player(params, keys, starts) -> Episodes` of every seed's greedy policy, jitted once per Trainer.

        `params` have a leading seed axis; `keys` and `starts` (from
        `reset_starts`) hold the episodes, the same for every seed; each
        output field has shape [seeds, episodes].
        """
        if self._greedy_player is None:
            from do1rl.evaluation import play_episode

            env, env_params, learner = self.env, self.env_params, self.learner

            def one(net_params, key, start):
                return play_episode(env, env_params, learner.policy(net_params, greedy=True), key, start)

            over_episodes = jax.vmap(one, in_axes=(None, 0, 0))
            self._greedy_player = jax.jit(jax.vmap(over_episodes, in_axes=(0, None, None)))
        return self._greedy_player

    def held_out_starts(self, episodes: int, seed: int):
        """`reset_starts` of `episodes` episodes of `seed` on this trainer's env (host arrays), made once."""
        key = (episodes, seed)
        if key not in self._starts:
            from do1rl.evaluation import reset_starts

            self._starts[key] = reset_starts(self.env, self.env_params, episodes=episodes, seed=seed)
        return self._starts[key]

    def place(self, state: Any) -> Any:
        """`state` (e.g. restored on the host) moved onto this trainer's devices."""
        if self.shardings is None:
            return jax.device_put(state)
        return jax.device_put(state, self.shardings)
