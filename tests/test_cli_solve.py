"""`do1rl solve`: in-process through `do1rl.cli.main`, and once as a console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from strategies import random_lists

from do1rl import cli
from do1rl.core import buckets, circuit_file
from do1rl.core.reference import evaluate

FMT = circuit_file.FORMAT
GOOD = {"format": FMT, "inputs": [1, 0, 1], "gates": [{"op": "OR", "in": [0, 1]}, {"op": "AND", "in": [3, 2]}]}
CHAIN3 = {
    "format": FMT,
    "inputs": [1],
    "gates": [{"op": "AND", "in": [2]}, {"op": "OR", "in": [0]}, {"op": "OR", "in": [1]}],
}
BAD_ALTERNATION = {"format": FMT, "inputs": [1], "gates": [{"op": "AND", "in": [0]}, {"op": "AND", "in": [1]}]}


def write(path: Path, obj) -> str:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


def lines(text):
    return [json.loads(line) for line in text.splitlines()]


def test_solve_valid_files(tmp_path, capsys):
    a, b = write(tmp_path / "a.json", GOOD), write(tmp_path / "b.json", CHAIN3)
    assert cli.main(["solve", a, b, a]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    records = lines(out)
    assert [r["file"] for r in records] == [a, b, a]
    assert {k: records[0][k] for k in ("do1", "depth", "gates", "inputs")} == {"do1": 2, "depth": 2, "gates": 2, "inputs": 3}
    # CHAIN3 lists a chain out of order: gate 1 (OR, depth 1), gate 0 (AND, 2), gate 2 (OR, 3).
    assert {k: records[1][k] for k in ("do1", "depth", "gates", "inputs")} == {"do1": 3, "depth": 3, "gates": 3, "inputs": 1}


def test_mixed_valid_and_invalid(tmp_path, capsys):
    good = write(tmp_path / "good.json", GOOD)
    bad = write(tmp_path / "bad.json", BAD_ALTERNATION)
    broken = write(tmp_path / "broken.json", "{not json")
    missing = str(tmp_path / "missing.json")
    unsorted = write(
        tmp_path / "unsorted.json",
        {"format": FMT, "inputs": [1], "gates": [{"op": "AND", "in": [2]}, {"op": "OR", "in": [0]}]},
    )
    code = cli.main(["solve", bad, good, broken, missing, unsorted])
    out, err = capsys.readouterr()
    assert code == 2
    records = lines(out)
    assert [r["file"] for r in records] == [good, unsorted]
    assert (records[1]["do1"], records[1]["depth"], records[1]["gates"]) == (2, 2, 2)
    err_lines = err.splitlines()
    assert err_lines[0] == f"error: {bad}: gate 1: alternation violated: AND gate reads AND gate 0 (node 1) [alternation]"
    assert err_lines[1].startswith(f"error: {broken}: invalid JSON") and err_lines[1].endswith("[invalid-json]")
    assert err_lines[2].startswith(f"error: {missing}: ") and err_lines[2].endswith("[unreadable]")
    assert all(line.startswith("error: ") for line in err_lines)
    assert "Traceback" not in err


def test_all_invalid(tmp_path, capsys):
    bad = write(tmp_path / "bad.json", BAD_ALTERNATION)
    assert cli.main(["solve", bad]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "[alternation]" in err


def test_usage_errors(capsys):
    assert cli.main(["solve"]) == 2  # no files
    assert cli.main([]) == 2  # no command
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["--help"]) == 0
    out, err = capsys.readouterr()
    assert "solve" in out and "Traceback" not in err


def test_stdin(tmp_path, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(GOOD).encode())))
    assert cli.main(["solve", "-"]) == 0
    assert lines(capsys.readouterr().out)[0]["do1"] == 2


@pytest.mark.slow
def test_thousand_files_compile_once_per_bucket(tmp_path, capsys):
    rng = np.random.default_rng(7)
    names, expected = [], []
    for i in range(1000):
        inputs, ops, fanins = random_lists(rng, max_nodes=8, max_fanin=2)
        obj = {"format": FMT, "inputs": inputs, "gates": [{"op": o, "in": f} for o, f in zip(ops, fanins)]}
        names.append(write(tmp_path / f"c{i:04d}.json", obj))
        _, depth, d1 = evaluate(inputs, ops, fanins)
        expected.append((d1, max(depth), len(ops), len(inputs)))
    parsed = [circuit_file.read(n) for n in names]
    groups = buckets.pad_bucket(parsed)
    assert len(groups) <= 8  # 8 nodes, fan-in <= 2, eval_width <= 8

    before = buckets.solve_batch._cache_size()
    assert cli.main(["solve", *names]) == 0
    compiled = buckets.solve_batch._cache_size() - before
    assert compiled <= len(groups)
    records = lines(capsys.readouterr().out)
    assert [r["file"] for r in records] == names
    assert [(r["do1"], r["depth"], r["gates"], r["inputs"]) for r in records] == expected
    # The same files again compile nothing new.
    before = buckets.solve_batch._cache_size()
    assert cli.main(["solve", *names]) == 0
    assert buckets.solve_batch._cache_size() == before
    capsys.readouterr()


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "do1rl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "do1rl"]


def test_console_script(tmp_path):
    good = write(tmp_path / "good.json", GOOD)
    bad = write(tmp_path / "bad.json", {**GOOD, "inputs": [1, 2, 0]})
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(_console_script() + ["solve", bad, good], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert lines(proc.stdout) == [{"file": good, "do1": 2, "depth": 2, "gates": 2, "inputs": 3, "serial_steps": 2, "cert_d1": 2}]
    assert proc.stderr.splitlines()[0] == f"error: {bad}: input 1: bit must be the integer 0 or 1, got 2 [bad-bit]"
    assert "Traceback" not in proc.stderr
