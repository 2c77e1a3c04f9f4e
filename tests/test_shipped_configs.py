"""Shipped configs (issue 26): found by name, listed and printed by `do1rl config`, the default of `do1rl train`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from do1rl import cli
from do1rl.experiments import config as config_lib
from do1rl.experiments.shipped import DEFAULT_TRAIN_CONFIG, example_circuits, find_config, kind, shipped_configs
from do1rl.experiments.sweep import load_config as load_sweep
from do1rl.experiments.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_every_config_and_example_in_the_checkout_ships():
    assert sorted(shipped_configs()) == sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert sorted(example_circuits()) == sorted(p.stem for p in (ROOT / "examples").glob("*.json"))


def test_find_config_takes_a_file_a_name_or_the_configs_folder_outside_a_checkout(tmp_path, monkeypatch):
    mine = tmp_path / "mine.yaml"
    mine.write_text("seed: 1\n")
    assert find_config(mine) == mine
    shipped = shipped_configs()["ppo_mlp"]
    monkeypatch.chdir(tmp_path)  # not a checkout: configs/ does not exist here
    assert find_config("ppo_mlp") == find_config("ppo_mlp.yaml") == find_config("configs/ppo_mlp.yaml") == shipped
    with pytest.raises(config_lib.ConfigError, match=r"^nope: no such file, and no shipped config is named 'nope'"):
        find_config("nope")
    with pytest.raises(config_lib.ConfigError, match=r"^elsewhere/ppo_mlp.yaml: no such file$"):
        find_config("elsewhere/ppo_mlp.yaml")  # a path that names another folder is not a shipped name


def test_config_list_names_every_shipped_config(capsys):
    assert cli.main(["config", "list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split()[0] for row in rows] == list(shipped_configs())
    assert all(row.split()[1] in ("train", "sweep") and len(row.split()) > 2 for row in rows)


def test_config_show_prints_the_file(capsys):
    assert cli.main(["config", "show", "ppo_do1_small"]) == 0
    assert capsys.readouterr().out == shipped_configs()["ppo_do1_small"].read_text()


@pytest.mark.parametrize("name", sorted(shipped_configs()))
def test_config_show_resolved_loads_back_to_the_same_config(name, tmp_path, capsys):
    path = shipped_configs()[name]
    assert cli.main(["config", "show", name, "--resolved"]) == 0
    text = capsys.readouterr().out
    edited = tmp_path / "edited.yaml"
    edited.write_text(text)
    load = load_sweep if kind(path) == "sweep" else (lambda p: config_lib.load(TrainConfig, p))
    assert load(edited) == load(path)
    assert yaml.safe_load(text)  # every key, in plain YAML


def test_unknown_config_name_is_one_line(capsys):
    assert cli.main(["config", "show", "nope"]) == 2
    assert cli.main(["train", "--config", "nope", "--out", "never"]) == 2
    assert cli.main(["sweep", "--config", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all("no shipped config is named 'nope'" in line for line in err), err
    assert not Path("never").exists()


def test_train_without_config_trains_the_shipped_default(tmp_path, monkeypatch, capsys):
    from do1rl.experiments import training

    seen = {}
    monkeypatch.setattr(training, "train_run", lambda config, run_dir, **_: seen.update(config=config, run_dir=run_dir) or 0)
    assert cli.main(["train", "--out", str(tmp_path / "run")]) == 0
    assert f"training the shipped {DEFAULT_TRAIN_CONFIG}" in capsys.readouterr().out
    assert seen["config"] == config_lib.load(TrainConfig, shipped_configs()[DEFAULT_TRAIN_CONFIG])
    assert cli.main(["train", "--config", DEFAULT_TRAIN_CONFIG, "--out", str(tmp_path / "run2"), "seed=7"]) == 0
    assert seen["config"].seed == 7


@pytest.mark.parametrize("name", ["a" * 5000, "a/" * 3000, "/dev/zero", "bad\x00name"])
def test_hostile_config_names_get_one_short_line(name, capsys):
    assert cli.main(["config", "show", name]) == 2
    assert cli.main(["train", "--config", name, "--out", "never"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(len(line) < 400 for line in err), err
    assert not Path("never").exists()
