"""Start-up cost of spawned workers against the jitted vector env: `python scripts/spawn_startup.py` (needs stable-baselines3).

Prints the seconds to start and reset 4 envs, and to take 20 random legal
steps, for SB3's SubprocVecEnv (spawn, the "do1rl:" module-prefix id) and
for `gymnasium.make_vec` (one process, jitted and vmapped). README.md quotes it.
"""
import time
import numpy as np

def main():
    import gymnasium as gym
    from stable_baselines3.common.vec_env import SubprocVecEnv
    t = time.perf_counter()
    fns = [lambda: gym.make("do1rl:do1rl/AlternatingCircuit-v0", n_inputs=3, depth=3, width=3) for _ in range(4)]
    venv = SubprocVecEnv(fns, start_method="spawn")
    obs = venv.reset()
    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    for _ in range(20):
        masks = np.stack(venv.env_method("action_masks"))
        obs, r, d, info = venv.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
    venv.close()
    print("subproc spawn 4 workers: start+reset %.1f s, 20 steps %.1f s" % (t1 - t, time.perf_counter() - t1))
    import do1rl  # noqa
    t = time.perf_counter()
    envs = gym.make_vec("do1rl/AlternatingCircuit-v0", num_envs=4, n_inputs=3, depth=3, width=3)
    envs.reset(seed=0)
    t1 = time.perf_counter()
    for _ in range(20):
        envs.step(np.array([rng.choice(np.flatnonzero(m)) for m in envs.action_masks()]))
    print("make_vec jitted 4 envs: start+reset %.1f s, 20 steps %.1f s" % (t1 - t, time.perf_counter() - t1))

if __name__ == "__main__":
    main()
