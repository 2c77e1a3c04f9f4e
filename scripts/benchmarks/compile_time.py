"""Part 5, compile time: lowering and compiling the default training config's chunk function."""

from __future__ import annotations

import dataclasses

from .training import DEFAULT_TRAIN_CONFIG, ROOT, compile_trainer


def bench_train_compile(smoke: bool) -> dict:
    """Lower + compile time of the default training config's chunk function (`Trainer.run_chunk`)."""
    from do1rl.experiments import config as config_lib
    from do1rl.experiments.train_config import TrainConfig

    config = config_lib.load(TrainConfig, DEFAULT_TRAIN_CONFIG)
    if smoke:
        small = {"num_envs": 8, "num_steps": 8, "num_minibatches": 2, "total_timesteps": 64}
        config = dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, **small))
    updates = config.log.updates_per_chunk
    _, _, _, compile_s = compile_trainer(config, updates, init=False)
    return {
        "config": str(DEFAULT_TRAIN_CONFIG.relative_to(ROOT)),
        "network": dataclasses.asdict(config.network),
        "updates_per_chunk": updates,
        "compile_s": compile_s,
    }


def run(report: dict, smoke: bool, repeats: int, log) -> dict:
    """Part 5's report entries (a single measurement: `repeats` is not used)."""
    compile_report = bench_train_compile(smoke)
    log(f"train compile ({compile_report['config']}): {compile_report['compile_s']:.1f}s")
    return {"train_compile": compile_report, "train_compile_s": compile_report["compile_s"]}
