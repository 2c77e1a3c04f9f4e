"""A battery of attacks on do1rl as a user would try them: checkpoints, configs, constructors, sizes, signals, kills.

    python scripts/attack_battery.py --work /tmp/battery [--kill-trials 4] [--out battery.json]

Each attack runs `do1rl` (or a few lines of Python) in a fresh process and is judged:

- a refusal must exit non-zero with one line on stderr (progress bars and `warning:` lines aside) and no
  traceback; exit 0 there is a silent wrong result;
- a Python API refusal must raise an exception with a one-line message, never an internal error
  (AttributeError, KeyError, IndexError, ZeroDivisionError, AssertionError);
- a signal must be answered with exit 130 and at most one line, within 5 s;
- a run killed with SIGKILL at random wall times and resumed must end with the uninterrupted run's files
  byte for byte and each TensorBoard (tag, step) once, with its value (the wall-clock `perf/*` tags aside: a
  resumed launch logs its first chunk's time, compile included, as `perf/first_chunk_s`, not as a rate).

Prints one JSON line per attack and a summary; exit 1 if any attack failed. docs/reliability.md quotes a run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

DO1RL = [sys.executable, "-m", "do1rl"]
INTERNAL = ("AttributeError", "KeyError", "IndexError", "ZeroDivisionError", "AssertionError", "RuntimeError")
# Shipped configs made tiny by overrides, as a user would shrink them.
TINY_CONFIG = "ppo_alternating_small"  # with the overrides of TINY
TINY = [
    *("env.args.depth=2", "env.args.width=2", "network.family=mlp", "network.depth=4"),
    *("network.width=8", "ppo.total_timesteps=48", "ppo.num_envs=4", "ppo.num_steps=4", "ppo.num_minibatches=1"),
    *("ppo.update_epochs=1", "eval.episodes=8", "log.updates_per_chunk=1", "log.keep_checkpoints=3"),
]
KILLED_CONFIG = "ppo_do1_small"  # with the overrides of KILLED
KILLED = [
    *("seed=5", "num_seeds=3", "env.args.n_inputs=3", "env.args.depth=3", "env.args.width=3"),
    *("network.depth=2", "network.width=8", "ppo.total_timesteps=2048", "ppo.num_envs=8", "ppo.num_steps=16"),
    *("ppo.num_minibatches=2", "ppo.update_epochs=1", "eval.episodes=16", "eval.seed=7", "log.updates_per_chunk=2"),
    *("log.keep_checkpoints=2", "plateau.enabled=true", "plateau.eval_every=2", "plateau.episodes=32", "plateau.patience=100"),
]


def tiny_train(out: str, *overrides: str) -> list[str]:
    """`do1rl train` of the tiny config into `out`; an override of a key TINY sets replaces TINY's."""
    keys = {o.split("=", 1)[0] for o in overrides}
    kept = [o for o in TINY if o.split("=", 1)[0] not in keys]
    return [*DO1RL, "train", "--config", TINY_CONFIG, "--out", out, "--no-progress", *kept, *overrides]


class Battery:
    def __init__(self, work: Path):
        self.work = work
        self.rows: list[dict] = []

    def run(
        self,
        name: str,
        args: list[str],
        expect: str = "refuse",
        timeout: float = 120,
        signal_after: float | None = None,
        sig: int = signal.SIGTERM,
    ) -> dict:
        """Runs one attack and records its verdict (`expect`: refuse, ok or signal)."""
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.work)
        row: dict = {"name": name}
        try:
            if signal_after is not None:
                time.sleep(signal_after)
                row["alive_at_signal"] = proc.poll() is None
                sent = time.perf_counter()
                proc.send_signal(sig)
            out, err = proc.communicate(timeout=timeout)
            if signal_after is not None:
                row["answered_s"] = round(time.perf_counter() - sent, 2)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            row["verdict"] = "BAD: hang"
        lines = [x for x in err.splitlines() if x.strip() and not x.startswith(("warning:", "eval:"))]
        row.update(rc=proc.returncode, stderr=lines[-2:], warnings=[x for x in err.splitlines() if x.startswith("warning:")])
        if "verdict" in row:
            pass
        elif "Traceback" in err or "Traceback" in out:
            row["verdict"] = "BAD: traceback"
        elif expect == "refuse":
            row["verdict"] = "ok" if proc.returncode != 0 and len(lines) == 1 else f"BAD: exit {proc.returncode}, {len(lines)} lines"
        elif expect == "signal":
            fine = proc.returncode == 130 and len(lines) <= 1 and row["answered_s"] <= 5 and row["alive_at_signal"]
            row["verdict"] = "ok" if fine else f"BAD: exit {proc.returncode}, {len(lines)} lines"
        else:
            row["verdict"] = "ok" if proc.returncode == 0 else f"BAD: exit {proc.returncode}"
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    def python(self, name: str, code: str, expect: str = "refuse") -> dict:
        """A Python API attack: `code` must raise an exception with a one-line message, or (expect ok) succeed."""
        body = "".join("    " + line + "\n" for line in code.strip().splitlines())
        wrapped = (
            f"import sys\ntry:\n{body}except Exception as e:\n"
            "    msg = str(e)\n"
            "    print(type(e).__name__ + ': ' + msg.splitlines()[0] if msg else type(e).__name__, file=sys.stderr)\n"
            f"    sys.exit(9 if '\\n' in msg.strip() or type(e).__name__ in {INTERNAL!r} else 2)\n"
        )
        return self.run(name, [sys.executable, "-c", wrapped], expect=expect)


def checkpoints(b: Battery) -> None:
    w = b.work
    assert b.run("setup: a tiny run", tiny_train("run"), "ok", 600)["verdict"] == "ok"
    b.run("setup: a run on a wider env", tiny_train("other", "env.args.width=3"), "ok", 600)

    def copy(name: str) -> Path:
        shutil.copytree(w / "run", w / name, ignore=shutil.ignore_patterns(".lock"))
        return w / name

    def evaluate(name: str, run: Path, expect: str = "refuse") -> dict:
        return b.run(name, [*DO1RL, "eval", "--agent", f"ppo:{run}", "--episodes", "4", "--no-progress"], expect)

    d = copy("truncated")
    for f in (d / "checkpoints").glob("*.msgpack"):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    evaluate("every kept checkpoint truncated: eval", d)
    b.run("every kept checkpoint truncated: resume", [*DO1RL, "train", "--resume", str(d), "--no-progress"])
    d = copy("empty_latest")
    (d / "checkpoints" / "latest.msgpack").write_bytes(b"")
    row = evaluate("latest emptied: eval falls back with a warning", d, "ok")
    if not row["warnings"]:
        row["verdict"] = "BAD: no warning"
    d = copy("appended")
    with open(d / "checkpoints" / "latest.msgpack", "ab") as fh:
        fh.write(b"\0" * 16)
    row = evaluate("bytes appended to latest: eval falls back with a warning", d, "ok")
    if not row["warnings"]:
        row["verdict"] = "BAD: no warning"
    d = copy("latest_dir")
    for f in (d / "checkpoints").glob("*.msgpack"):
        f.unlink()
    (d / "checkpoints" / "latest.msgpack").mkdir()
    evaluate("latest is a directory, nothing else kept: eval", d)
    d = copy("no_checkpoints")
    shutil.rmtree(d / "checkpoints")
    evaluate("checkpoints folder removed: eval", d)
    d = copy("wider_config")
    (d / "config.yaml").write_text((d / "config.yaml").read_text().replace("width: 8", "width: 16"))
    evaluate("config.yaml edited after training (network width): eval", d)
    d = copy("lr_config")
    (d / "config.yaml").write_text(re.sub(r"learning_rate: .*", "learning_rate: 0.1", (d / "config.yaml").read_text(), count=1))
    b.run("config.yaml edited after training (learning rate): resume", [*DO1RL, "train", "--resume", str(d), "--no-progress"])
    d = copy("format_record")
    (d / "checkpoints" / "format.json").write_text("{not json")
    evaluate("checkpoints/format.json garbled: eval", d)
    d = copy("foreign")
    for f in (d / "checkpoints").glob("*.msgpack"):
        f.unlink()
    for f in (w / "other" / "checkpoints").glob("*.msgpack"):
        shutil.copy(f, d / "checkpoints" / f.name)
    evaluate("another env's checkpoints copied in: eval", d)


def configs(b: Battery) -> None:
    cases = {
        "a top-level list": "- 1\n- 2\n",
        "a section that is a number": "ppo: 5\n",
        "gamma above 1": "ppo: {gamma: 1.5}\n",
        "a negative learning rate": "ppo: {learning_rate: -0.001}\n",
        "clip_eps negative": "ppo: {clip_eps: -0.2}\n",
        "num_envs zero": "ppo: {num_envs: 0}\n",
        "seed a bool": "seed: true\n",
        "seed a float": "seed: 2.5\n",
        "an unknown top-level key": "ppoo: {gamma: 0.9}\n",
        "an unknown network family": "network: {family: transformer}\n",
        "an unknown env id": "env: {id: do1rl/DO2-v0}\n",
        "a python tag": "seed: !!python/object/apply:os.system ['echo pwned']\n",
        "tab indentation": "ppo:\n\tgamma: 0.9\n",
        "only a comment": "# nothing here\n",
        "a null document": "~\n",
        "another family's keyword": "env: {id: do1rl/DO1-v0, args: {family: biregular, skip_prob: 0.3}}\n",
        "keep_checkpoints zero": "log: {keep_checkpoints: 0}\n",
        "negative eval episodes": "eval: {episodes: -3}\n",
    }
    for i, (name, text) in enumerate(cases.items()):
        (b.work / f"config{i}.yaml").write_text(text)
        row = b.run(f"config: {name}", [*DO1RL, "train", "--config", f"config{i}.yaml", "--out", f"out{i}", "--no-progress"])
        if (b.work / f"out{i}").exists():
            row["verdict"] = "BAD: left a folder"
    for override in (
        "ppo.gamma=nan",
        "network.width=1e3",
        "ppo=3",
        "env.args.depth=[1,2]",
        "ppo.num_steps=99999999999999999999",
        "=1",
        "seed",
    ):
        b.run(f"override: {override}", tiny_train("ov", override))


def constructors(b: Battery) -> None:
    gen = "from do1rl.core.generators import RandomAlternating\n"
    b.python("RandomAlternating(n_inputs=True)", gen + "RandomAlternating(n_inputs=True, depth=3, width=3)")
    b.python("RandomAlternating(depth=10**12)", gen + "RandomAlternating(depth=10**12)")
    b.python("RandomAlternating(skip_prob=inf)", gen + "RandomAlternating(skip_prob=float('inf'))")
    b.python("LayeredBiregular(width=-2)", "from do1rl.core.biregular import LayeredBiregular\nLayeredBiregular(width=-2)")
    b.python(
        "numpy scalars as sizes and probabilities",
        "import jax, numpy as np\n"
        + gen
        + "RandomAlternating(n_inputs=np.int64(3), depth=np.int32(3), width=3, p_one=np.float32(0.5))(jax.random.key(0))",
        "ok",
    )
    b.python("gym.make(depth=True)", "import gymnasium as gym, do1rl\ngym.make('do1rl/DO1-v0', depth=True)")
    b.python("make(width=3.0)", "from do1rl.envs import make\nmake('DO1', width=3.0)")
    b.python("make_vec(num_envs=0)", "import gymnasium as gym, do1rl\ngym.make_vec('do1rl/DO1-v0', num_envs=0)")
    for action in ("10**9", "-1", "1.5", "'a'", "None", "[0, 1]"):
        b.python(
            f"step({action})",
            f"import gymnasium as gym, do1rl\nenv = gym.make('do1rl/DO1-v0', depth=3, width=3)\nenv.reset(seed=0)\nenv.step({action})",
        )
    b.python("render() before reset()", "import gymnasium as gym, do1rl\ngym.make('do1rl/DO1-v0', depth=3, render_mode='ansi').render()")


def sizes(b: Battery) -> None:
    for name, extra in (
        ("depth=2000 width=500", ["--env-arg", "depth=2000", "--env-arg", "width=500"]),
        ("biregular depth=5000", ["--env-arg", "family=biregular", "--env-arg", "depth=5000"]),
        ("max_fanin=100000", ["--env-arg", "max_fanin=100000"]),
        ("10^7 episodes at depth 300", ["--episodes", "10000000", "--env-arg", "depth=300"]),
    ):
        b.run(f"size: eval {name}", [*DO1RL, "eval", "--env", "do1rl/DO1-v0", "--agent", "greedy", "--episodes", "8", *extra], timeout=60)
    for override in ("network.width=10000000", "ppo.num_steps=100000000", "env.args.width=200000", "network.depth=65"):
        row = b.run(f"size: train {override}", tiny_train("big", override), timeout=60)
        if (b.work / "big").exists():
            row["verdict"] = "BAD: left a folder"
            shutil.rmtree(b.work / "big")


def signals(b: Battery) -> None:
    b.run(
        "SIGTERM during a long MCTS eval",
        [*DO1RL, "eval", "--env", "do1rl/DO1-v0", "--agent", "mcts", "--episodes", "20000", "--env-arg", "depth=6", "--no-progress"],
        "signal",
        60,
        signal_after=8,
    )
    b.run(
        "SIGTERM during a long eval of a trained run",
        [*DO1RL, "eval", "--agent", "ppo:run", "--episodes", "10000000", "--no-progress"],
        "signal",
        60,
        signal_after=6,
    )
    examples = sorted(str(p) for p in (Path(__file__).resolve().parent.parent / "examples").glob("*.json"))
    b.run("SIGINT during a long solve", [*DO1RL, "solve", *examples * 400], "signal", 60, signal_after=3, sig=signal.SIGINT)


def _scalars(run: Path) -> tuple[collections.Counter, dict]:
    from do1rl.experiments.event_log import read_scalars

    counts: collections.Counter = collections.Counter()
    values = {}
    for tag, step, value in read_scalars(run):
        counts[(tag, step)] += 1
        values[(tag, step)] = value
    return counts, values


def _files(run: Path) -> dict[str, bytes]:
    names = ["eval.json", "curve.json", "plateau.json", *(p.relative_to(run).as_posix() for p in (run / "checkpoints").glob("*.msgpack"))]
    return {n: (run / n).read_bytes() for n in names if (run / n).exists()}


def kills(b: Battery, trials: int) -> None:
    """SIGKILL at random wall times (not at logged lines) of a 3-seed plateau run; resume to the end; compare."""
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(b.work / "cache"), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    train = [*DO1RL, "train", "--no-progress"]
    subprocess.run([*train, "--config", KILLED_CONFIG, "--out", "reference", *KILLED], cwd=b.work, env=env, check=True, capture_output=True)
    start = time.perf_counter()  # a second run, its compiles cached as the trials' are: the kill window
    subprocess.run([*train, "--config", KILLED_CONFIG, "--out", "again", *KILLED], cwd=b.work, env=env, check=True, capture_output=True)
    full = time.perf_counter() - start
    b.rows.append({"name": "the run twice, uninterrupted: the same bytes", "seconds": round(full, 1)})
    b.rows[-1]["verdict"] = "ok" if _files(b.work / "again") == _files(b.work / "reference") else "BAD: not deterministic"
    print(json.dumps(b.rows[-1]), flush=True)
    want_files, (want_counts, want_values) = _files(b.work / "reference"), _scalars(b.work / "reference")
    rng = random.Random(11)
    for trial in range(trials):
        run, killed = b.work / f"killed{trial}", 0
        args = [*train, "--config", KILLED_CONFIG, "--out", run.name, *KILLED]
        for _ in range(2 + trial % 2):
            proc = subprocess.Popen(args, cwd=b.work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.5, 0.9 * full))
            killed += proc.poll() is None
            proc.kill()
            proc.wait()
            if (run / "config.yaml").exists():  # --resume also starts again a run killed before its first checkpoint
                args = [*train, "--resume", run.name]
        last = subprocess.run(args, cwd=b.work, env=env, capture_output=True, text=True)
        counts, values = _scalars(run)
        row = {
            "name": f"SIGKILL trial {trial}: killed {killed} times, then resumed to the end",
            "rc": last.returncode,
            "files_identical": _files(run) == want_files,
            "pairs": len(counts),
            "repeated": sum(c != 1 for c in counts.values()),
            "missing": len({k for k in want_counts if not k[0].startswith("perf/")} - set(counts)),
            "differing": sum(values.get(k) != v for k, v in want_values.items() if not k[0].startswith("perf/") and k in values),
        }
        clean = last.returncode == 0 and "Traceback" not in last.stderr
        row["verdict"] = "ok" if clean and row["files_identical"] and not (row["repeated"] or row["missing"] or row["differing"]) else "BAD"
        b.rows.append(row)
        print(json.dumps(row), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="an empty or new folder for the runs (removed first)")
    parser.add_argument("--kill-trials", type=int, default=4)
    parser.add_argument("--out", type=Path, help="write every attack's row here as JSON")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    battery = Battery(args.work.resolve())
    for part in (checkpoints, configs, constructors, sizes, signals):
        part(battery)
    kills(battery, args.kill_trials)
    bad = [r for r in battery.rows if r["verdict"] != "ok"]
    answered = [r["answered_s"] for r in battery.rows if "answered_s" in r]
    print(f"{len(battery.rows)} attacks, {len(bad)} failed; signals answered in {min(answered):.2f}-{max(answered):.2f} s")
    for r in bad:
        print("FAILED:", json.dumps(r))
    if args.out:
        args.out.write_text(json.dumps(battery.rows, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
