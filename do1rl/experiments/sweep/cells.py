"""Running one cell of a sweep: train (network families) or build (mcts, baselines), then evaluate."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jax

from do1rl.agents.networks import param_count
from do1rl.envs.make import make
from do1rl.evaluation import metrics, play
from do1rl.experiments import training
from do1rl.experiments.agents import AgentOptions, make_agent
from do1rl.experiments.runs import CHECKPOINT, load_agent
from do1rl.experiments.sweep.flops import env_step_flops, network_flops
from do1rl.experiments.sweep.grid import Cell, SweepConfig


class CellFailed(RuntimeError):
    """A cell that could not finish (e.g. PPO diverged); the sweep goes on without it."""


class Interrupted(RuntimeError):
    """SIGINT/SIGTERM during a PPO cell: its checkpoint is saved; rerun to resume."""


def run_cell(cell: Cell, config: SweepConfig, out_dir: Path) -> dict:
    """Runs one cell; returns its result: {"cell_id", "agent", "settings", "info", "reports"}.

    `reports` holds one evaluator report per seed (`do1rl.evaluation.metrics`);
    `info` the accounting columns shared by the cell's rows.
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
        report = json.loads((run_dir / "eval.json").read_text())
        reports = report.get("seeds") or [report]
        agent = load_agent(run_dir)
        env, env_params = agent.env, agent.env_params
        obs, _ = jax.jit(env.reset)(jax.random.key(0), env_params)
        info["param_count"] = int(param_count(agent.params))
        info["serial_depth"] = int(agent.serial_depth(obs))
        info["flops_per_decision"] = network_flops(train.network, env, obs)
        info["env_steps"] = train.ppo.num_updates * train.ppo.batch_size
        info["eval_s"] = time.perf_counter() - start - info["train_s"]
    else:
        env, env_params = make(train.env.id, **train.env.args)
        reset = jax.jit(env.reset)(jax.random.key(0), env_params)
        t0 = time.perf_counter()
        options = AgentOptions(mcts=dataclasses.replace(config.mcts, simulations=cell.simulations or 1))
        policy = make_agent(cell.agent, env, env_params, options)
        info["serial_depth"] = info["flops_per_decision"] = None
        if cell.agent == "mcts":
            info["serial_depth"] = int(policy.describe()["serial_depth_per_decision"])
            step = env_step_flops(env, env_params, reset)
            info["flops_per_decision"] = None if step is None else cell.simulations * step
        episodes = play(env, env_params, policy, episodes=train.eval.episodes, seed=train.eval.seed)
        reports = [metrics(episodes)]
        if cell.agent == "mcts":
            info["search_env_steps"] = int(episodes.length.sum()) * int(cell.simulations)
        info["eval_s"] = time.perf_counter() - t0
    info["horizon"] = int(env.max_horizon)
    info["wall_s"] = time.perf_counter() - start
    return {
        "cell_id": cell_id,
        "agent": cell.agent,
        "settings": cell.settings() | ({"mcts": dataclasses.asdict(config.mcts)} if cell.agent == "mcts" else {}),
        "info": info,
        "reports": reports,
    }
