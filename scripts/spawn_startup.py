"""Start-up cost of spawned workers against the jitted vector env: `python scripts/spawn_startup.py` (needs stable-baselines3).

Prints the seconds to start and reset 4 envs, and to take 20 random legal
steps, for SB3's SubprocVecEnv (spawn, the "do1rl:" module-prefix id) and
for `gymnasium.make_vec` (one process, jitted and vmapped). README.md quotes it.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

ENVS, STEPS = 4, 20
ID = "do1rl/AlternatingCircuit-v0"
SIZE = dict(n_inputs=3, depth=3, width=3)


def _worker_env():
    return gym.make(f"do1rl:{ID}", **SIZE)  # a spawned worker has never imported do1rl


def _legal(rng: np.random.Generator, masks) -> np.ndarray:
    return np.array([rng.choice(np.flatnonzero(m)) for m in masks])


def spawned() -> tuple[float, float]:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    rng, start = np.random.default_rng(0), time.perf_counter()
    venv = SubprocVecEnv([_worker_env] * ENVS, start_method="spawn")
    venv.reset()
    ready = time.perf_counter()
    for _ in range(STEPS):
        venv.step(_legal(rng, venv.env_method("action_masks")))
    done = time.perf_counter()
    venv.close()
    return ready - start, done - ready


def jitted() -> tuple[float, float]:
    import do1rl  # noqa: F401  (registers the ids)

    rng, start = np.random.default_rng(0), time.perf_counter()
    envs = gym.make_vec(ID, num_envs=ENVS, **SIZE)
    envs.reset(seed=0)
    ready = time.perf_counter()
    for _ in range(STEPS):
        envs.step(_legal(rng, envs.action_masks()))
    return ready - start, time.perf_counter() - ready


if __name__ == "__main__":
    for name, measure in (("SubprocVecEnv, spawn", spawned), ("make_vec, jitted", jitted)):
        ready, steps = measure()
        print(f"{name}: {ENVS} envs started and reset in {ready:.1f} s, {STEPS} steps in {steps:.1f} s")
