"""A tiny training config shared by the checkpoint tests: 3 PPO iterations of 16 steps, a checkpoint after each."""

import textwrap

TINY_RUN = textwrap.dedent(
    """
    seed: 3
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 2, width: 2}
    network: {family: mlp, depth: 4, width: 8}
    ppo: {total_timesteps: 48, num_envs: 4, num_steps: 4, num_minibatches: 1, update_epochs: 1}
    eval: {episodes: 8}
    log: {updates_per_chunk: 1}
    """
)
