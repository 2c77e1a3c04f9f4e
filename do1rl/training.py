"""Checkpointed PPO runs: typed configs, run folders, resume, logging, evaluation.

A run folder holds:

- `config.yaml`: the resolved `TrainConfig` (file + overrides);
- `events.out.tfevents.*`: TensorBoard scalars (tensorboardX);
- `checkpoints/latest.msgpack`: the full training state of every seed
  (params, optimizer state, env states, PRNG keys, counters), rewritten
  atomically after every chunk of `log.updates_per_chunk` iterations;
- `eval.json` (at the end): the core evaluator's metrics for seed 0's
  greedy policy, with the keys of `do1rl eval --out`, plus `seeds` (one
  report per seed) when `num_seeds > 1`.

Training runs chunk by chunk: one jitted call runs `updates_per_chunk` PPO
iterations for all seeds (vmapped) and returns summed metrics. Between
chunks the loop logs, checkpoints and checks for NaN/inf losses and
SIGINT/SIGTERM. Resuming reloads the checkpoint and runs the same chunks,
so an interrupted and resumed run is bitwise equal (on CPU) to an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from do1rl import atomic
from do1rl import config as config_lib
from do1rl.agents import checkpoint
from do1rl.agents.networks import NetworkConfig, make_network, param_count, serial_depth
from do1rl.agents.ppo import PPO, PPOConfig, summarize
from do1rl.evaluation import evaluate, local_mesh

CHECKPOINT = Path("checkpoints") / "latest.msgpack"

# Exit codes of `train_run`.
OK, INTERRUPTED, DIVERGED = 0, 130, 3


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Which environment to train on: a registered id and its keyword arguments."""

    id: str = "do1rl/AlternatingCircuit-v0"
    args: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """The final evaluation written to `eval.json`."""

    episodes: int = 1000
    seed: int = 10_000  # instances apart from those of training seeds
    greedy: bool = True


@dataclasses.dataclass(frozen=True)
class LogConfig:
    """How often the loop reports and checkpoints (in PPO iterations)."""

    updates_per_chunk: int = 10


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole training run (`do1rl train --config`)."""

    seed: int = 0
    num_seeds: int = 1  # seeds trained at once (vmapped)
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)

    def __post_init__(self):
        if self.num_seeds < 1:
            raise ValueError(f"num_seeds must be >= 1, got {self.num_seeds}")
        if self.log.updates_per_chunk < 1:
            raise ValueError(f"log.updates_per_chunk must be >= 1, got {self.log.updates_per_chunk}")
        if self.eval.episodes < 1:
            raise ValueError(f"eval.episodes must be >= 1, got {self.eval.episodes}")


def build(config: TrainConfig):
    """(env, env_params, network, PPO) for a config; raises on a bad env or network."""
    from do1rl.agents.networks import validate
    from do1rl.envs.registration import make_functional

    env, env_params = make_functional(config.env.id, **config.env.args)
    validate(config.network)
    network = make_network(config.network, env)
    return env, env_params, network, PPO(env, env_params, network, config.ppo)


def seed_keys(config: TrainConfig) -> jax.Array:
    """One key per seed: seed i of a run uses fold_in(key(seed), i)."""
    base = jax.random.key(config.seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(np.arange(config.num_seeds))


def mesh_shardings(state: Any, devices: int):
    """Shardings placing each seed's env batch across `devices` local devices.

    Env states (and per-env accumulators) are split along the env axis;
    params, optimizer state, keys and counters are replicated, so XLA
    averages gradients across devices.
    """
    mesh = local_mesh(devices, "envs")
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
    """The compiled pieces of a run: `init` and `run_chunk(state, n)`, both over all seeds."""

    def __init__(self, config: TrainConfig, devices: int = 1):
        self.config = config
        self.env, self.env_params, self.network, self.ppo = build(config)
        if config.ppo.num_envs % devices:
            raise ValueError(f"ppo.num_envs ({config.ppo.num_envs}) must be divisible by --devices ({devices})")
        self.devices = devices
        init = self.ppo.init_seeds
        shape = jax.eval_shape(init, seed_keys(config))
        self.state_shape = shape
        if devices > 1:
            self.shardings, replicated = mesh_shardings(shape, devices)
            self.init = jax.jit(init, out_shardings=self.shardings)
            self._run = jax.jit(
                jax.vmap(self.ppo.run, in_axes=(0, None)),
                static_argnums=1,
                in_shardings=(self.shardings,),
                out_shardings=(self.shardings, replicated),
            )
        else:
            self.shardings = None
            self.init = jax.jit(init)
            self._run = jax.jit(jax.vmap(self.ppo.run, in_axes=(0, None)), static_argnums=1)

    def place(self, state: Any) -> Any:
        """`state` (e.g. restored on the host) moved onto this trainer's devices."""
        if self.shardings is None:
            return jax.device_put(state)
        return jax.device_put(state, self.shardings)

    def run_chunk(self, state: Any, num_updates: int):
        return self._run(state, num_updates)


class _StopFlag:
    """Turns the first SIGINT/SIGTERM into a flag checked between chunks."""

    def __init__(self):
        self.signal: int | None = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.signal is not None:  # a second signal: stop at once
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def train_run(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    devices: int = 1,
    progress: bool = True,
    log=print,
) -> int:
    """Trains (or resumes) a run in `run_dir`; returns an exit code (OK, INTERRUPTED, DIVERGED)."""
    with _StopFlag() as stop:  # from the start, so no signal can tear a checkpoint write
        return _train(config, run_dir, resume, devices, progress, log, stop)


def _train(config, run_dir, resume, devices, progress, log, stop) -> int:
    from tensorboardX import SummaryWriter

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / CHECKPOINT
    trainer = Trainer(config, devices=devices)
    ppo_cfg = config.ppo
    total_updates = ppo_cfg.num_updates
    if resume:
        state, meta = checkpoint.restore(ckpt_path, trainer.state_shape)
        state = trainer.place(state)
        log(f"resumed {run_dir} at iteration {meta.get('update', '?')} of {total_updates}")
    else:
        config_lib.dump(config, run_dir / "config.yaml")
        state = trainer.init(seed_keys(config))
        checkpoint.save(ckpt_path, state, {"update": 0, "env_steps": 0})
    done_updates = int(np.asarray(state.update).reshape(-1)[0])
    params0 = jax.tree.map(lambda x: x[0], state.params)
    log(
        f"{config.network.family} network: {param_count(params0):,} parameters, "
        f"{config.num_seeds} seed(s), {total_updates} iterations of {ppo_cfg.batch_size} env steps"
    )

    writer = SummaryWriter(str(run_dir))
    steps_per_update = ppo_cfg.batch_size
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total_updates * steps_per_update,
            initial=done_updates * steps_per_update,
            unit="step",
            unit_scale=True,
            desc="train",
        )
    status = OK
    while done_updates < total_updates:
        n = min(config.log.updates_per_chunk, total_updates - done_updates)
        start = time.perf_counter()
        new_state, totals = trainer.run_chunk(state, n)
        totals = jax.device_get(totals)
        elapsed = time.perf_counter() - start
        stats = summarize(totals)
        if stats["nonfinite"] > 0:
            log(
                f"error: loss became NaN or inf between iterations {done_updates} and "
                f"{done_updates + n}; stopped, keeping the last good checkpoint ({ckpt_path})"
            )
            status = DIVERGED
            break
        state = new_state
        done_updates += n
        env_steps = done_updates * steps_per_update
        checkpoint.save(ckpt_path, state, {"update": done_updates, "env_steps": env_steps})
        steps_per_s = n * steps_per_update * config.num_seeds / max(elapsed, 1e-9)
        _log_scalars(writer, stats, steps_per_s, env_steps)
        if bar is not None:
            bar.update(n * steps_per_update)
            bar.set_postfix(
                sps=f"{steps_per_s:,.0f}",
                ret=f"{stats['mean_return']:.2f}",
                ratio=f"{stats['mean_ratio']:.3f}",
                refresh=False,
            )
        if stop.signal is not None:
            name = signal.Signals(stop.signal).name
            log(f"{name}: saved a checkpoint at iteration {done_updates}; resume with --resume {run_dir}")
            status = INTERRUPTED
            break
    if bar is not None:
        bar.close()
    writer.close()
    if status != OK:
        return status
    report = evaluate_run(trainer, state, config)
    atomic.write_json(run_dir / "eval.json", report)
    log(
        f"eval ({config.eval.episodes} episodes, {'greedy' if config.eval.greedy else 'sampled'}): "
        f"mean ratio {report['mean_ratio']:.4f}, mean regret {report['mean_regret']:.4f}"
    )
    return OK


def _log_scalars(writer, stats: dict, steps_per_s: float, step: int) -> None:
    names = {
        "loss/policy": "policy_loss",
        "loss/value": "value_loss",
        "loss/entropy": "entropy",
        "train/approx_kl": "approx_kl",
        "train/clip_fraction": "clip_fraction",
        "train/explained_variance": "explained_variance",
        "train/grad_norm": "grad_norm",
        "train/learning_rate": "learning_rate",
        "episode/return": "mean_return",
        "episode/approx_ratio": "mean_ratio",
        "episode/regret": "mean_regret",
        "episode/count": "episodes",
    }
    for tag, key in names.items():
        value = stats[key]
        if np.isfinite(value):
            writer.add_scalar(tag, value, step)
    writer.add_scalar("perf/steps_per_s", steps_per_s, step)
    writer.flush()


def evaluate_run(trainer: Trainer, state: Any, config: TrainConfig) -> dict:
    """eval.json: seed 0's metrics at top level, every seed's under `seeds` if several."""
    reports = []
    for i in range(config.num_seeds):
        params = jax.tree.map(lambda x, i=i: x[i], state.params)
        reports.append(
            evaluate(
                trainer.env,
                trainer.env_params,
                trainer.ppo.policy(params, greedy=config.eval.greedy),
                episodes=config.eval.episodes,
                seed=config.eval.seed,
            )
        )
    head = {
        "env": config.env.id,
        "agent": "ppo",
        "seed": config.eval.seed,
        "greedy": config.eval.greedy,
        "network": config.network.family,
    }
    out = {**head, **reports[0]}
    if config.num_seeds > 1:
        out["seeds"] = reports
    return out


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


def load_agent(run_dir: str | Path, seed_index: int = 0) -> TrainedAgent:
    """The trained agent of seed `seed_index` from a run folder's latest checkpoint."""
    config = load_config(run_dir)
    if not 0 <= seed_index < config.num_seeds:
        raise ValueError(f"{run_dir}: seed index must be in 0..{config.num_seeds - 1}, got {seed_index}")
    env, env_params, network, ppo = build(config)
    shape = jax.eval_shape(ppo.init_seeds, seed_keys(config))
    state, _ = checkpoint.restore(Path(run_dir) / CHECKPOINT, shape)
    params = jax.tree.map(lambda x: jax.numpy.asarray(x[seed_index]), state.params)
    value_scale = 1.0 / ppo.reward_scale  # the critic learnt scaled returns
    return TrainedAgent(
        config=config,
        env=env,
        env_params=env_params,
        params=params,
        apply=lambda obs: _unscaled(network.apply(params, obs), value_scale),
        serial_depth=lambda obs: serial_depth(config.network, env, obs),
        policy=lambda greedy=True: ppo.policy(params, greedy=greedy),
    )
