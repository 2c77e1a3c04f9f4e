"""Typed configs: YAML + dotted overrides, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from do1rl import cli
from do1rl.agents.networks import validate
from do1rl.experiments import config as C
from do1rl.experiments.train_config import TrainConfig

CONFIG_DIR = Path(__file__).parent.parent / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("ppo_*.yaml"))
SWEEPS = sorted([*CONFIG_DIR.glob("sweep_*.yaml"), *CONFIG_DIR.glob("ssh_*.yaml")])


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\nppo:\n  num_envs: 16\n  num_steps: 8\n  total_timesteps: 1024\nenv:\n  args: {depth: 4, width: 4}\n")
    cfg = C.load(TrainConfig, path, ["ppo.learning_rate=1e-3", "network.family=gnn", "env.args.stop_action=true"])
    assert cfg.seed == 3 and cfg.ppo.num_envs == 16 and cfg.ppo.learning_rate == 1e-3
    assert cfg.network.family == "gnn"
    assert cfg.env.args == {"depth": 4, "width": 4, "stop_action": True}  # merged key by key
    assert isinstance(C.load(TrainConfig, path, ["ppo.learning_rate=1"]).ppo.learning_rate, float)


def test_round_trip(tmp_path):
    cfg = C.load(TrainConfig, None, ["network.width=32", "env.args={depth: 2}"])
    C.dump(cfg, tmp_path / "config.yaml")
    assert C.load(TrainConfig, tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    "text, overrides, needle",
    [
        ("ppo:\n  num_env: 3\n", [], "unknown config key(s) ppo.num_env; valid keys: ppo.total_timesteps"),
        ("seed: 0\n", ["network.widht=3"], "unknown config key(s) network.widht"),
        ("seed: one\n", [], "seed: expected an integer, got 'one'"),
        ("ppo:\n  anneal_lr: 1\n", [], "ppo.anneal_lr: expected true or false"),
        ("ppo: 3\n", [], "ppo: expected a mapping"),
        ("seed: 0\n", ["ppo.num_envs=0"], "num_envs must be >= 1"),
        ("seed: 0\n", ["novalue"], "expected KEY=VALUE"),
        ("", [], "the config is empty"),
        ("# only a comment\n", [], "the config is empty"),
        ("seed: 1\nppo: {num_envs: 8}\nseed: 2\n", [], "duplicate key 'seed' (line 3)"),
        ("ppo:\n  num_envs: 8\n  num_envs: 16\n", [], "duplicate key 'num_envs' (line 3)"),
        ("seed: 0\n", ["ppo.num_envs=8", "ppo.num_envs=16"], "ppo.num_envs is set twice"),  # was: last one wins
        ("seed: 0\n", ["env.args={depth: 4}", "env.args.depth=5"], "env.args.depth is set twice"),
        ("seed: -5\n", [], "seed must be an integer in 0.."),
        ("eval: {seed: -1}\n", [], "seed must be an integer in 0.."),
        ("plateau: {seed: -1}\n", [], "seed must be an integer in 0.."),
        ("seed: 4294967296\n", [], "seed must be an integer in 0..4294967295"),  # jax.random.key keeps 32 bits
        ("ppo: {vf_coef: -1}\n", [], "vf_coef must be >= 0"),
        ("ppo: {ent_coef: -5}\n", [], "ent_coef must be >= 0"),
        ("[1, 2]\n", [], "expected a mapping of config keys"),
        ("a: [\n", [], "not valid YAML"),
    ],
)
def test_bad_configs(tmp_path, text, overrides, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(C.ConfigError) as err:
        C.load(TrainConfig, path, overrides)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_a_yaml_merge_key_may_be_overridden(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "seed: 0\nenv:\n  args: &base {depth: 3, width: 3}\nnetwork: {family: gnn}\n"
        "eval: {episodes: 5}\nlog: {updates_per_chunk: 2}\nppo: {<<: {num_envs: 8}, num_envs: 16}\n"
    )
    assert C.load(TrainConfig, path).ppo.num_envs == 16


def test_train_cli_rejects_bad_config_in_one_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("ppo:\n  bogus: 1\n")
    assert cli.main(["train", "--config", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ppo.bogus" in err[0] and "valid keys" in err[0]
    assert cli.main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: no such file" in capsys.readouterr().err
    path.write_text("env:\n  args: {depht: 3}\n")
    assert cli.main(["train", "--config", str(path), "--out", str(tmp_path / "run2"), "--no-progress"]) == 2
    assert "unknown keyword argument(s) 'depht'" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_resume_before_the_first_checkpoint_starts_again_from_config_yaml(tmp_path, monkeypatch, capsys):
    """A start killed before its first checkpoint leaves config.yaml alone: `--resume` starts it again from it."""
    from tiny_runs import TINY_RUN

    from do1rl.experiments import training

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(TINY_RUN)
    calls = []
    monkeypatch.setattr(training, "train_run", lambda config, run_dir, resume, **_: calls.append((config.seed, run_dir, resume)) or 0)
    assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert calls == [(3, run, False)] and "starting it again from its config.yaml" in capsys.readouterr().out
    assert cli.main(["train", "--resume", str(run), "--extend", "96"]) == 2  # nothing trained to extend
    assert "nothing to resume" in capsys.readouterr().err and len(calls) == 1


def test_every_shipped_config_is_tested():
    assert {p.name for p in CONFIG_DIR.glob("*.yaml")} == {p.name for p in CONFIGS + SWEEPS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load(path):
    from do1rl.experiments.trainer import build

    cfg = C.load(TrainConfig, path)
    build(cfg)  # env and network are valid


@pytest.mark.parametrize("path", SWEEPS, ids=[p.name for p in SWEEPS])
def test_shipped_sweeps_load(path):
    from do1rl.experiments import sweep

    assert sweep.check(sweep.load_config(path))  # every cell's config is valid


def test_train_help_lists_every_key_with_its_default_and_rule(capsys):
    assert cli.main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and "." in line.split()[0]}
    for key in C.valid_keys(TrainConfig):
        if "." in key:
            assert key in rows, key
    assert "(>= 1)" in rows["ppo.num_envs"] and " 64 " in rows["ppo.num_envs"]
    assert "(one of mlp, gnn, recurrent, bottleneck)" in rows["network.family"]
    assert "mlp a multiple of 4" in out  # the rule users met only through its error before


@pytest.mark.parametrize("key", [row[0] for row in C.key_table(TrainConfig) if row[3].startswith((">", "in [", "in ("))])
def test_each_shown_range_is_the_rule_applied(tmp_path, key):
    """A value just outside the help's interval is refused, with the help's own words."""
    kind, rule = {row[0]: row[1:4:2] for row in C.key_table(TrainConfig)}[key]
    op, bound = rule.split()[0], rule.split()[-1].strip("[]()")
    outside = {">=": float(bound) - 1, ">": float(bound)}.get(op, 1.5 if rule.endswith("1]") else -0.5)
    outside = int(outside) if kind == "int" else outside
    family = ["network.family=recurrent"] if key.startswith("network.") else []  # the family whose rules they are
    with pytest.raises(ValueError) as err:
        validate(C.load(TrainConfig, None, [*family, f"{key}={outside}"]).network)  # networks: checked when built
    assert f"must be {rule}" in str(err.value)
