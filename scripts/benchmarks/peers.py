"""Part 3, peers: do1rl PPO against Stable-Baselines3 MaskablePPO and against rejax PPO, same env and sizes."""

from __future__ import annotations

import functools
import time
from importlib.metadata import version

import jax

from .harness import side_by_side
from .training import bench_training, compiled_rollout, compiled_training, train_config, updates_per_run


def bench_sb3(smoke: bool, repeats: int, updates: int) -> dict:
    """Stable-Baselines3 MaskablePPO env-steps/s on do1rl's Gymnasium env, same sizes as do1rl's mlp run.

    Run with 1 torch thread and with torch's default count, side by side;
    the faster counts (the other is kept in "by_threads"). Returns
    {"skipped": reason} when stable-baselines3 / sb3-contrib are not installed.
    """
    try:
        import sb3_contrib
        import stable_baselines3
        import torch
        from sb3_contrib import MaskablePPO
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError as err:
        return {"skipped": f"stable-baselines3 / sb3-contrib not importable ({err}); pip install -e '.[bench]'"}
    import gymnasium

    import do1rl.envs  # noqa: F401  (registers the Gymnasium ids)

    config = train_config("mlp", smoke)
    ppo, net = config.ppo, config.network
    # do1rl's mlp: an embedding Dense then `depth` Dense layers, all `width` wide.
    hidden = [net.width] * (1 + net.depth)

    def make_model():
        vec = make_vec_env(lambda: gymnasium.make(config.env.id, **config.env.args), n_envs=ppo.num_envs, seed=0)
        return MaskablePPO(
            "MultiInputPolicy",
            vec,
            n_steps=ppo.num_steps,
            batch_size=ppo.minibatch_size,
            n_epochs=ppo.update_epochs,
            learning_rate=ppo.learning_rate,
            gamma=ppo.gamma,
            gae_lambda=ppo.gae_lambda,
            clip_range=ppo.clip_eps,
            ent_coef=ppo.ent_coef,
            vf_coef=ppo.vf_coef,
            max_grad_norm=ppo.max_grad_norm,
            policy_kwargs={"net_arch": {"pi": hidden, "vf": hidden}, "activation_fn": torch.nn.SiLU},
            device="cpu",
            seed=0,
            verbose=0,
        )

    steps = updates * ppo.batch_size
    default_threads = torch.get_num_threads()
    models = {threads: make_model() for threads in sorted({1, default_threads})}

    def learn(threads: int) -> None:
        torch.set_num_threads(threads)
        models[threads].learn(total_timesteps=steps, reset_num_timesteps=False)

    phase_s = {}
    for threads, model in models.items():
        learn(threads)  # first env steps and torch kernels warm up outside the phase timers
        phase_s[threads] = time_phases(model)
    try:
        t = side_by_side({threads: functools.partial(learn, threads) for threads in models}, repeats)
    finally:
        torch.set_num_threads(default_threads)
    best = min(t, key=lambda threads: t[threads]["median_s"])
    per_update = {k: v / ((repeats + 1) * updates) for k, v in phase_s[best].items()}
    per_update.update(
        policy=per_update["rollout"] - per_update["env_steps"] - per_update["action_masks"],
        backward_and_rest=per_update["train"] - per_update["train_forward"] - per_update["adam"],
    )
    return {
        "phases": {"per_update_s": per_update},
        "net_arch": {"pi": hidden, "vf": hidden},
        "activation": "SiLU",
        "env": {"id": config.env.id, **config.env.args},
        "num_envs": ppo.num_envs,
        "num_steps": ppo.num_steps,
        "batch_size": ppo.minibatch_size,
        "n_epochs": ppo.update_epochs,
        "updates_per_run": updates,
        "torch_threads": best,
        "by_threads": {str(n): {"time": t[n], "env_steps_per_s": steps / t[n]["median_s"]} for n in t},
        "time": t[best],
        "env_steps_per_s": steps / t[best]["median_s"],
        "versions": {
            "stable_baselines3": stable_baselines3.__version__,
            "sb3_contrib": sb3_contrib.__version__,
            "torch": torch.__version__,
        },
    }


def time_phases(model) -> dict[str, float]:
    """Seconds spent in each phase of an SB3 model's `learn` from now on, summed (a dict it keeps adding to).

    Phases: "rollout" (`collect_rollouts`), within it "env_steps" (`VecEnv.step`)
    and "action_masks" (`env_method("action_masks")`); "train", within it
    "train_forward" (`evaluate_actions`) and "adam" (`optimizer.step`).
    """
    spent = dict.fromkeys(("rollout", "env_steps", "action_masks", "train", "train_forward", "adam"), 0.0)

    def clocked(obj, method: str, phase: str) -> None:
        inner = getattr(obj, method)

        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - t0

        setattr(obj, method, run)

    clocked(model, "collect_rollouts", "rollout")
    clocked(model, "train", "train")
    clocked(model.env, "step", "env_steps")
    clocked(model.env, "env_method", "action_masks")
    clocked(model.policy, "evaluate_actions", "train_forward")
    clocked(model.policy.optimizer, "step", "adam")
    return spent


def rejax_ppo(config):
    """rejax PPO on `config`'s env (through `GymnaxAdapter`) with do1rl's PPO sizes and hyperparameters.

    The MLP gets do1rl's mlp depth and width ((1 + depth) hidden layers of
    `width`, swish) for its actor and, separately, its critic.
    """
    from rejax import PPO as RejaxPPO

    from do1rl.envs.gymnax import GymnaxAdapter
    from do1rl.envs.make import make

    env, params = make(config.env.id, **config.env.args)
    ppo, net = config.ppo, config.network
    return RejaxPPO.create(
        env=GymnaxAdapter.for_rejax(env),  # rejax 0.1.3 steps with the 5-tuple contract
        env_params=params,
        total_timesteps=ppo.total_timesteps,
        num_envs=ppo.num_envs,
        num_steps=ppo.num_steps,
        num_epochs=ppo.update_epochs,
        num_minibatches=ppo.num_minibatches,
        learning_rate=ppo.learning_rate,
        gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda,
        clip_eps=ppo.clip_eps,
        vf_coef=ppo.vf_coef,
        ent_coef=ppo.ent_coef,
        max_grad_norm=ppo.max_grad_norm,
        skip_initial_evaluation=True,
        agent_kwargs={"hidden_layer_sizes": (net.width,) * (1 + net.depth), "activation": "swish"},
    )


def bench_rejax(smoke: bool, repeats: int, updates: int) -> dict:
    """do1rl PPO against rejax PPO (same env, MLP sizes, batch, epochs, minibatches): env-steps/s side by side.

    Each side is `updates` PPO iterations in one compiled call (rejax's
    `train_iteration` in a `fori_loop`, without its evaluations), compile time
    excluded; the rollouts alone are timed alongside. Returns {"skipped":
    reason} when rejax is not installed.
    """
    try:
        import gymnax  # noqa: F401
        import rejax  # noqa: F401
    except ImportError as err:
        return {"skipped": f"rejax not importable ({err}); pip install -e '.[gymnax]'"}
    from do1rl.agents.networks import param_count

    config, _, state, do1rl_run, do1rl_compile_s = compiled_training("mlp", smoke, updates)
    algo = rejax_ppo(config)
    rejax_state = jax.block_until_ready(jax.jit(algo.init_state)(jax.random.key(config.seed)))
    chunk = lambda ts: jax.lax.fori_loop(0, updates, lambda _, ts: algo.train_iteration(ts), ts)
    t0 = time.perf_counter()
    rejax_run = jax.jit(chunk).lower(rejax_state).compile()
    rejax_compile_s = time.perf_counter() - t0
    rejax_rollout = jax.jit(lambda ts: algo.collect_trajectories(ts)[1]).lower(rejax_state).compile()
    do1rl_rollout = compiled_rollout("mlp", smoke, updates)
    t = side_by_side(
        {
            "do1rl": lambda: jax.block_until_ready(do1rl_run(state)),
            "rejax": lambda: jax.block_until_ready(rejax_run(rejax_state)),
            "do1rl_rollout": lambda: jax.block_until_ready(do1rl_rollout(state)),
            "rejax_rollout": lambda: jax.block_until_ready(rejax_rollout(rejax_state)),
        },
        repeats,
    )
    ppo = config.ppo
    steps = updates * ppo.batch_size

    def side(name: str, parameters: int, compile_s: float) -> dict:
        whole, roll = t[name]["median_s"] / updates, t[f"{name}_rollout"]["median_s"]
        return {
            "parameters": parameters,
            "compile_s": compile_s,
            "time": t[name],
            "rollout_time": t[f"{name}_rollout"],
            "env_steps_per_s": steps / t[name]["median_s"],
            "per_update_s": {"whole": whole, "rollout": roll, "update": whole - roll},
        }

    rejax_params = param_count(rejax_state.actor_ts.params) + param_count(rejax_state.critic_ts.params)
    return {
        "env": {"id": config.env.id, **config.env.args},
        "num_envs": ppo.num_envs,
        "num_steps": ppo.num_steps,
        "num_minibatches": ppo.num_minibatches,
        "update_epochs": ppo.update_epochs,
        "updates_per_run": updates,
        "hidden_layer_sizes": [config.network.width] * (1 + config.network.depth),
        "observation_size": int(rejax_state.last_obs.shape[-1]),
        "do1rl": side("do1rl", param_count(jax.tree.map(lambda x: x[0], state.params)), do1rl_compile_s),
        "rejax": side("rejax", rejax_params, rejax_compile_s),
        "ratio": t["rejax"]["median_s"] / t["do1rl"]["median_s"],
        "versions": {"rejax": version("rejax"), "gymnax": version("gymnax")},
    }


def phase_summary(do1rl_phases: dict, sb3_phases: dict) -> str:
    """One line: where each learner's time per update goes (ms)."""
    d, b = do1rl_phases["per_update_s"], sb3_phases["per_update_s"]
    ms = lambda x: f"{1e3 * x:.1f}"
    return (
        f"do1rl {ms(d['whole'])} = env steps {ms(d['env_steps'])} + policy {ms(d['policy'])} + update {ms(d['update'])};"
        f" SB3 {ms(b['rollout'] + b['train'])} = env steps {ms(b['env_steps'])} + masks {ms(b['action_masks'])}"
        f" + policy {ms(b['policy'])} + train forward {ms(b['train_forward'])} + backward, Adam and rest"
        f" {ms(b['backward_and_rest'] + b['adam'])}"
    )


def run(report: dict, smoke: bool, repeats: int, log) -> dict:
    """Part 3's peer entries: SB3 and rejax, each with its ratio to do1rl (skipped when not installed).

    The SB3 ratio is against the training area's mlp run; run alone, this area times that run itself.
    """
    updates = updates_per_run(smoke)
    out: dict = {}
    sb3 = bench_sb3(smoke, repeats, updates)
    mlp = None
    if "skipped" not in sb3:
        mlp = report.get("training", {}).get("mlp") or bench_training("mlp", smoke, repeats, updates)
    ratio = None if mlp is None else mlp["env_steps_per_s"] / sb3["env_steps_per_s"]
    out.update(sb3=sb3, ppo_vs_sb3=ratio)
    if ratio is None:
        log(f"sb3: skipped ({sb3['skipped']})")
    else:
        log(f"sb3 MaskablePPO: {sb3['env_steps_per_s']:,.0f} env-steps/s; do1rl/sb3 = {ratio:.1f}x")
        log("per update (ms): " + phase_summary(mlp["phases"], sb3["phases"]))
    peer = bench_rejax(smoke, repeats, updates)
    out.update(rejax=peer, ppo_vs_rejax=peer.get("ratio"))
    if "skipped" in peer:
        log(f"rejax: skipped ({peer['skipped']})")
    else:
        d, r = peer["do1rl"], peer["rejax"]
        log(
            f"rejax PPO: {r['env_steps_per_s']:,.0f} env-steps/s vs do1rl {d['env_steps_per_s']:,.0f} side by side"
            f" = {peer['ratio']:.2f}x; rollout per update {1e3 * d['per_update_s']['rollout']:.1f} vs"
            f" {1e3 * r['per_update_s']['rollout']:.1f} ms, update phase {1e3 * d['per_update_s']['update']:.1f} vs"
            f" {1e3 * r['per_update_s']['update']:.1f} ms"
        )
    return out
