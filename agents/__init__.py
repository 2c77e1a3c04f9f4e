"""Agents: PPO, MCTS on the true model, actor-critic networks and baseline policies."""

from do1rl.agents.baselines import BASELINES, greedy_policy, oracle_policy, random_policy
from do1rl.agents.mcts import MCTSConfig, MCTSPolicy, make_mcts_policy
from do1rl.agents.networks import FAMILIES, NetworkConfig, make_network, param_count, serial_depth
from do1rl.agents.ppo import PPO, PPOConfig

__all__ = [
    "BASELINES",
    "FAMILIES",
    "PPO",
    "MCTSConfig",
    "MCTSPolicy",
    "NetworkConfig",
    "PPOConfig",
    "greedy_policy",
    "make_mcts_policy",
    "make_network",
    "oracle_policy",
    "param_count",
    "random_policy",
    "serial_depth",
]
