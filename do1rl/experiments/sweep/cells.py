"""Running one cell of a sweep: train (network families) or build (mcts, baselines), then evaluate."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Any

import jax

from do1rl.agents.mcts import MCTSPolicy
from do1rl.agents.networks import param_count, serial_depth
from do1rl.envs.make import make
from do1rl.evaluation import make_player
from do1rl.experiments import plateau as plateau_lib
from do1rl.experiments import training
from do1rl.experiments.agent_registry import AgentOptions, make_agent
from do1rl.experiments.global_checkpoint import CHECKPOINT
from do1rl.experiments.runs import (
    load_run,
    retarget,
    same_shapes,
    with_iterations,
    with_iterations_per_depth,
    with_max_iterations,
)
from do1rl.experiments.sweep.evaluate import Player, evaluation, seed_players, test_env
from do1rl.experiments.sweep.flops import env_step_flops, network_flops
from do1rl.experiments.sweep.grid import Cell, SweepConfig


class CellFailed(RuntimeError):
    """A cell that could not finish (e.g. PPO diverged); the sweep goes on without it."""


class Interrupted(RuntimeError):
    """SIGINT/SIGTERM during a PPO cell: its checkpoint is saved; rerun to resume."""


def run_cell(cell: Cell, config: SweepConfig, out_dir: Path) -> dict:
    """Runs one cell; returns its result: {"cell_id", "agent", "settings", "info", "evaluations"}.

    Each evaluation (`do1rl.experiments.sweep.evaluate.evaluation`) is one
    test env (the training env, or each of `grid.test_depths`) and, for
    recurrent cells, each forced iteration count and each T = ceil(x * D) of
    `grid.test_iterations_per_depth`; it holds one report per seed and
    bootstrap intervals over seeds and episodes. A test depth beyond the
    training pad is played at its own size: graph nets are retargeted to it
    (`runs.retarget`), untrained agents built on it, and an mlp skips it
    (listed in `info["skipped_test_depths"]`). `info` holds the
    accounting columns shared by the cell's rows; a cell trained to plateau
    (`train.plateau.enabled`) adds `steps_to_plateau`, `stopped_early` and
    `curve` (`plateau_info`), and its `env_steps` are those it trained.
    """
    cell_id = cell.cell_id(config.mcts)
    start = time.perf_counter()
    info: dict[str, Any] = {"param_count": 0, "env_steps": 0, "search_env_steps": 0, "train_s": 0.0}
    train = cell.train
    if cell.trains:
        run_dir = out_dir / "runs" / cell_id
        resume = (run_dir / CHECKPOINT).exists()
        status = training.train_run(train, run_dir, resume=resume, progress=False, log=lambda *a, **k: None)
        if status == training.INTERRUPTED:
            raise Interrupted(f"{cell_id}: interrupted; checkpoint saved in {run_dir}")
        if status != training.OK:
            raise CellFailed(f"{cell_id}: training stopped with exit status {status} (see {run_dir})")
        info["train_s"] = time.perf_counter() - start
        run = load_run(run_dir)
        obs, _ = jax.jit(run.env.reset)(jax.random.key(0), run.env_params)
        info["param_count"] = int(param_count(jax.tree.map(lambda x: x[0], run.params)))
        info["serial_depth"] = int(serial_depth(train.network, run.env, obs))
        info["flops_per_decision"] = network_flops(train.network, run.env, obs)
        info["env_steps"] = train.learner.num_updates * train.learner.batch_size
        info["horizon"] = int(run.env.max_horizon)
        info |= plateau_info(run_dir)
        info |= curriculum_info(run_dir)
        players_for: _TrainedPlayers | _BuiltPlayers = _TrainedPlayers(run, cell)
    else:
        env, env_params = make(train.env.id, **train.env.args)
        options = AgentOptions(mcts=dataclasses.replace(config.mcts, simulations=cell.simulations or 1))
        policy = make_agent(cell.agent, env, env_params, options)
        info["serial_depth"] = info["flops_per_decision"] = None
        if cell.agent == "mcts":
            assert isinstance(policy, MCTSPolicy) and cell.simulations is not None  # the grid gives mcts cells a count
            info["serial_depth"] = int(policy.describe()["serial_depth_per_decision"])
            step = env_step_flops(env, env_params, jax.jit(env.reset)(jax.random.key(0), env_params))
            info["flops_per_decision"] = None if step is None else cell.simulations * step
        info["horizon"] = int(env.max_horizon)
        players_for = _BuiltPlayers(cell, options)
    t0 = time.perf_counter()
    evaluations = []
    for test_depth, args in cell.test_envs():
        env, env_params, starts = test_env(train.env.id, args, episodes=train.eval.episodes, seed=train.eval.seed)
        first_reset = functools.cache(functools.partial(_first_reset, env, env_params))  # once per test env
        modes = players_for(env, env_params, test_depth)
        if modes is None:
            info.setdefault("skipped_test_depths", []).append(test_depth)
            continue
        for (iterations, per_depth), players in modes.items():
            ev = evaluation(
                env,
                env_params,
                players,
                episodes=train.eval.episodes,
                seed=train.eval.seed,
                test_depth=test_depth,
                iterations=iterations,
                starts=starts,
                decisive_blocks=cell.decisive_blocks,
            )
            if per_depth is not None:
                ev["iterations_per_depth"] = per_depth
            ev |= players_for.compute(env, env_params, first_reset, test_depth, (iterations, per_depth))
            evaluations.append(ev)
    if cell.agent == "mcts":
        assert cell.simulations is not None
        info["search_env_steps"] = sum(e["decisions"] for e in evaluations) * int(cell.simulations)
    info["eval_s"] = time.perf_counter() - t0
    info["wall_s"] = time.perf_counter() - start
    return {
        "cell_id": cell_id,
        "agent": cell.agent,
        "settings": cell.settings() | ({"mcts": dataclasses.asdict(config.mcts)} if cell.agent == "mcts" else {}),
        "info": info,
        "evaluations": evaluations,
    }


def plateau_info(run_dir: Path) -> dict:
    """A run's train-to-plateau columns for a cell's `info`; {} if it did not train to plateau.

    `steps_to_plateau`: per seed, the env steps of its best evaluation when
    it plateaued (None: not before the cap); `stopped_early`: every seed
    plateaued before the cap; `env_steps`: the env steps trained per seed;
    `curve`: per seed, its evaluations ({update, env_steps, mean_ratio, lo, hi}).
    """
    found = plateau_lib.read_run(run_dir)
    if found is None:
        return {}
    report, curve = found
    return {
        "steps_to_plateau": report["steps_to_plateau"],
        "stopped_early": report["stopped_early"],
        "env_steps": report["env_steps"],
        "curve": curve["seeds"],
    }


def curriculum_info(run_dir: Path) -> dict:
    """A run's depth-curriculum columns for a cell's `info` (per seed: `curriculum_level`, `restarts`); {} without one."""
    path = run_dir / training.CURRICULUM_FILE
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    return {"curriculum_level": report["level"], "restarts": report["restarts"]}


def _first_reset(env, env_params):
    """(obs, state) of `env.reset` with key 0: what the compute columns are measured on."""
    return jax.jit(env.reset)(jax.random.key(0), env_params)


class _BuiltPlayers:
    """An untrained agent's (mcts, baselines) player on a test env, built on that env (its model, for mcts)."""

    def __init__(self, cell: Cell, options: AgentOptions):
        self.cell, self.options = cell, options

    def __call__(self, env, env_params, test_depth: int | None) -> dict:
        return {(None, None): [make_player(env, make_agent(self.cell.agent, env, env_params, self.options))]}

    def compute(self, env, env_params, first_reset, test_depth: int | None, mode) -> dict:
        """MCTS's serial depth and FLOPs per decision on this test env (its model is this env); {} for the others."""
        if self.cell.agent != "mcts":
            return {}
        policy = make_agent(self.cell.agent, env, env_params, self.options)
        assert isinstance(policy, MCTSPolicy) and self.cell.simulations is not None  # the grid gives mcts cells a count
        step = env_step_flops(env, env_params, first_reset())
        return {
            "serial_depth": int(policy.describe()["serial_depth_per_decision"]),
            "flops_per_decision": None if step is None else self.cell.simulations * step,
        }


class _TrainedPlayers:
    """A trained cell's players on a test env, keyed (forced T, x of T = ceil(x * D)); None if it cannot act there.

    On an env of the training shapes with the trained network the run's own
    players are reused; otherwise the run is retargeted (`runs.retarget`):
    graph nets act on any size, an mlp only on its training shapes.
    """

    def __init__(self, run, cell: Cell):
        self.run, self.cell = run, cell
        self.network = run.config.network
        if cell.test_cap is not None:
            self.network = with_max_iterations(self.network, cell.test_cap)
        self.own: list[Player] | None = None

    def __call__(self, env, env_params, test_depth: int | None) -> dict | None:
        run = self.run
        same = same_shapes(env, run.env)
        if not same and self.network.family == "mlp":
            return None
        out: dict[tuple[int | None, float | None], list[Player]] = {}
        for mode, network in self._networks(env, test_depth).items():
            if same and network == run.config.network:
                if self.own is None:
                    self.own = seed_players(run.env, run.learner, run.params)
                out[mode] = self.own
            else:
                moved = retarget(run, env, env_params, network)
                out[mode] = seed_players(moved.env, moved.learner, moved.params)
        return out

    def _networks(self, env, test_depth: int | None) -> dict[tuple[int | None, float | None], Any]:
        """The network config of each mode: the trained rule, each forced T, each T = ceil(x * D)."""
        depth = test_depth if test_depth is not None else int(env.max_depth)
        modes: dict[tuple[int | None, float | None], Any] = {(None, None): self.network}
        modes |= {(t, None): with_iterations(self.network, t) for t in self.cell.iterations()[1:] if t is not None}
        for x in self.cell.iterations_per_depth():
            modes[(None, x)] = with_iterations_per_depth(self.network, x, depth)
        return modes

    def compute(self, env, env_params, first_reset, test_depth: int | None, mode) -> dict:
        """Serial depth and FLOPs per decision of the mode's network on this test env (a test circuit's T and size)."""
        network = self._networks(env, test_depth)[mode]
        obs, _ = first_reset()
        return {"serial_depth": int(serial_depth(network, env, obs)), "flops_per_decision": network_flops(network, env, obs)}
