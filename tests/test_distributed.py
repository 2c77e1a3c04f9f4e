"""`do1rl train` across two real processes: jax.distributed over localhost, gloo collectives, one CPU device each.

One pass, phases overlapped to save wall time on small CI machines:

1. a pair of processes trains the tiny run; process 1 pauses after the
   checkpoint of iteration 2 and is SIGKILLed, so process 0, waiting for it in
   a collective, must stop by itself with one line; meanwhile one process
   trains the same config over 2 local devices (the reference);
2. the newest step (iteration 2) is damaged, so the pair resumes with
   `--resume` from the step before it (the kept one, iteration 0: one warning
   line), and finishes;
3. a single process refuses to resume the pair's run (process-count mismatch).

Every process prints a hash of its (replicated) parameters after each
checkpoint; the two processes must agree each time, and the parameters must
equal the reference's (bitwise on CPU: with two shards, the cross-process
gradient sum adds the same two numbers as the in-process one).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from do1rl import cli
from do1rl.experiments.distributed import Cluster, DistributedError, requested, resolve

slow = pytest.mark.slow  # the two-process runs: minutes on a busy 2-core machine

TINY = textwrap.dedent(
    """
    seed: 7
    env:
      id: do1rl/AlternatingCircuit-v0
      args: {n_inputs: 3, depth: 2, width: 2, stop_action: true}
    network: {family: mlp, depth: 4, width: 16}
    ppo: {total_timesteps: 384, num_envs: 8, num_steps: 8, num_minibatches: 2, update_epochs: 1}
    eval: {episodes: 8, seed: 99}
    log: {updates_per_chunk: 2}
    """
)
UPDATES = (0, 2, 4, 6)  # checkpoints: init, then after each chunk of 2 iterations
PAUSE_AT = 2

# Runs `do1rl train ARGS` in this process, printing a hash of the parameters after every checkpoint
# and saving them (process 0) to $DO1RL_TEST_OUT/params-<update>.npz; with $DO1RL_TEST_PAUSE_AT it
# process 1 marks that checkpoint done and waits to be killed.
DRIVER = textwrap.dedent(
    """
    import hashlib, os, sys, time
    import jax, numpy as np
    from do1rl import cli
    from do1rl.experiments import global_checkpoint
    from do1rl.experiments.distributed import local_value

    out, pause = os.environ["DO1RL_TEST_OUT"], int(os.environ.get("DO1RL_TEST_PAUSE_AT", "-1"))
    real_save = global_checkpoint.RunCheckpoints.save

    def save(self, state, meta):
        real_save(self, state, meta)
        leaves = [np.asarray(x) for x in jax.tree.leaves(local_value(state.params))]
        digest = hashlib.sha256(b"".join(x.tobytes() for x in leaves)).hexdigest()
        print(f"CHUNK {jax.process_index()} {meta['update']} {digest}", flush=True)
        if jax.process_index() == 0:
            np.savez(os.path.join(out, f"params-{meta['update']}.npz"), *leaves)
        if meta["update"] == pause and jax.process_index() == 1:
            open(os.path.join(out, f"paused-{jax.process_index()}"), "w").close()
            time.sleep(3600)

    global_checkpoint.RunCheckpoints.save = save
    sys.exit(cli.main(sys.argv[1:]))
    """
)

# The same config trained by one process over 2 local devices, without the CLI (no eval compile).
REFERENCE = textwrap.dedent(
    """
    import os, sys, jax, numpy as np
    from do1rl.experiments import config as C
    from do1rl.experiments.train_config import TrainConfig
    from do1rl.experiments.trainer import Trainer, seed_keys

    assert jax.process_count() == 1 and jax.local_device_count() == 2
    cfg = C.load(TrainConfig, sys.argv[1], [])
    trainer = Trainer(cfg, devices=2)
    state = trainer.init(seed_keys(cfg))
    for update in range(0, cfg.ppo.num_updates + 1, cfg.log.updates_per_chunk):
        if update:
            state, _ = trainer.run_chunk(state, cfg.log.updates_per_chunk)
        leaves = [np.asarray(x) for x in jax.tree.leaves(state.params)]
        np.savez(os.path.join(os.environ["DO1RL_TEST_OUT"], f"params-{update}.npz"), *leaves)
    print("ok")
    """
)

TIMEOUT_S = 900  # per phase; a hang fails the test instead of blocking CI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(out: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "DO1RL_", "XLA_FLAGS"))}
    env.update(JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1", DO1RL_TEST_OUT=str(out), **extra)
    return env


def _start(script: Path, args: list[str], out: Path, log: Path, **extra) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, str(script), *args], env=_env(out, **extra), stdout=f, stderr=subprocess.STDOUT)


def _pair(script, args, out, tmp, port, tag, **extra):
    dist = ["--distributed", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--no-progress"]
    return [_start(script, [*args, *dist, "--process-id", str(i)], out, tmp / f"{tag}-{i}.log", **extra) for i in range(2)]


def _wait(procs, deadline) -> list[int]:
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a process hung")
    return codes


def _chunks(log: Path) -> dict[int, str]:
    """{update: params hash} printed by one process."""
    out = {}
    for line in log.read_text().splitlines():
        if line.startswith("CHUNK "):
            _, _, update, digest = line.split()
            out[int(update)] = digest
    return out


def _params(out: Path, update: int) -> list[np.ndarray]:
    with np.load(out / f"params-{update}.npz", allow_pickle=False) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


def _damage(step_dir: Path) -> None:
    """Flips a byte of the largest file of an orbax step (its array data)."""
    path = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


SLURM_PAIR = {
    "SLURM_JOB_ID": "17",
    "SLURM_STEP_NODELIST": "node[1-2]",
    "SLURM_NTASKS": "2",
    "SLURM_PROCID": "1",
    "SLURM_LOCALID": "0",
    "SLURM_STEP_NUM_TASKS": "2",
}


def test_settings_come_from_flags_then_variables_then_slurm():
    env = {"DO1RL_COORDINATOR_ADDRESS": "h:1", "DO1RL_NUM_PROCESSES": "3", "DO1RL_PROCESS_ID": "2"}
    assert resolve(environ=env) == Cluster("h:1", 3, 2)
    assert resolve("g:2", 2, 0, init_timeout=5, environ=env) == Cluster("g:2", 2, 0, 5)
    assert resolve(environ=SLURM_PAIR) == Cluster()  # left to JAX's SLURM detection
    assert requested(False, SLURM_PAIR) and requested(False, {"DO1RL_COORDINATOR_ADDRESS": "h:1"}) and requested(True, {})
    assert not requested(False, {}) and not requested(False, {**SLURM_PAIR, "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "1"})
    batch_script = {k: v for k, v in SLURM_PAIR.items() if k != "SLURM_STEP_NUM_TASKS"}  # sbatch's own shell, not srun
    assert not requested(False, batch_script)


@pytest.mark.parametrize(
    "args, words",
    [
        (dict(), "without a coordinator"),
        (dict(coordinator="h:1", num_processes=2), "together"),
        (dict(coordinator="h", num_processes=2, process_id=0), "HOST:PORT"),
        (dict(coordinator="h:70000", num_processes=2, process_id=0), "HOST:PORT"),
        (dict(coordinator="h:1", num_processes=2, process_id=2), "process id must be in 0..1"),
        (dict(coordinator="h:1", num_processes=0, process_id=0), "must be >= 1"),
        (dict(coordinator="h:1", num_processes="two", process_id=0), "must be an integer"),
        (dict(coordinator="h:1", num_processes=2, process_id=0, init_timeout=0), "init timeout"),
    ],
)
def test_bad_settings_are_one_line_errors(args, words):
    with pytest.raises(DistributedError, match=words) as err:
        resolve(**args, environ={})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--coordinator", "h:1"], "need --distributed"),
        (["--distributed"], "needs --out"),
        (["--distributed", "--out", "x", "--num-processes", "2"], "together"),
        (["--distributed", "--out", "x", "--coordinator", "h:1", "--num-processes", "2", "--process-id", "5"], "0..1"),
    ],
)
def test_cli_refuses_bad_distributed_options_before_starting(argv, words, monkeypatch, capsys, tmp_path):
    for name in [k for k in os.environ if k.startswith(("SLURM_", "DO1RL_"))]:
        monkeypatch.delenv(name)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    assert cli.main(["train", "--config", str(config), "--no-progress", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_missing_coordinator_or_taken_port_fail_fast_with_one_line(monkeypatch, capsys, tmp_path):
    for name in [k for k in os.environ if k.startswith(("SLURM_", "DO1RL_"))]:
        monkeypatch.delenv(name)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["train", "--config", str(config), "--out", str(tmp_path / "run"), "--distributed", "--num-processes", "2"]
        assert cli.main([*args, "--coordinator", f"127.0.0.1:{port}", "--process-id", "0"]) == 4
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and f"cannot serve the coordinator on port {port}" in lines[0], lines
    start = time.monotonic()
    assert cli.main([*args, "--coordinator", f"127.0.0.1:{_free_port()}", "--process-id", "1", "--init-timeout", "2"]) == 4
    assert time.monotonic() - start < 30
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no coordinator at 127.0.0.1:"), lines
    assert not (tmp_path / "run").exists()


def test_a_peer_that_never_arrives_ends_in_one_line_and_exit_4(tmp_path):
    """Process 0 of 2, alone: JAX would abort (SIGABRT, a native stack trace) when its deadline passed."""
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "DO1RL_"))}
    argv = [
        sys.executable,
        "-m",
        "do1rl",
        "train",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "--distributed",
        "--num-processes",
        "2",
        "--process-id",
        "0",
        "--coordinator",
        f"127.0.0.1:{_free_port()}",
        "--init-timeout",
        "2",
    ]
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert time.monotonic() - start < 60
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 4 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("error: not all 2 processes joined the run") and "--init-timeout 2 s" in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    config, driver, reference = tmp / "tiny.yaml", tmp / "driver.py", tmp / "reference.py"
    config.write_text(TINY)
    driver.write_text(DRIVER)
    reference.write_text(REFERENCE)
    run = tmp / "run"
    procs = []
    try:
        deadline = time.monotonic() + TIMEOUT_S
        pair = _pair(
            driver,
            ["train", "--config", str(config), "--out", str(run)],
            tmp / "out-first",
            tmp,
            _free_port(),
            "first",
            DO1RL_TEST_PAUSE_AT=str(PAUSE_AT),
        )
        ref = _start(reference, [str(config)], tmp / "out-ref", tmp / "ref.log", XLA_FLAGS="--xla_force_host_platform_device_count=2")
        procs = [*pair, ref]
        paused = tmp / "out-first" / "paused-1"
        while not paused.exists():
            if any(p.poll() is not None for p in pair):
                pytest.fail("the pair exited before its checkpoint:\n" + (tmp / "first-0.log").read_text()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail("the pair never reached its checkpoint")
            time.sleep(0.2)
        time.sleep(2)  # process 0 goes on into the next collective and waits there
        pair[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first_codes = _wait(pair, deadline)
        survivor_s = time.monotonic() - killed
        kept = sorted(p.name for p in (run / "checkpoints" / "orbax").iterdir())
        recorded = sorted(json.loads((run / "checkpoints" / "orbax_sha256.json").read_text())["steps"])
        _damage(run / "checkpoints" / "orbax" / str(PAUSE_AT))  # the resumed pair falls back to iteration 0
        deadline = time.monotonic() + TIMEOUT_S
        resumed = _pair(driver, ["train", "--resume", str(run)], tmp / "out-resumed", tmp, _free_port(), "resumed")
        procs = [*resumed, ref]
        resumed_codes = _wait(resumed, deadline)
        ref_code = _wait([ref], deadline)[0]
    finally:
        for p in procs:
            with contextlib.suppress(OSError):
                p.kill()
    return dict(
        tmp=tmp,
        run=run,
        first_codes=first_codes,
        survivor_s=survivor_s,
        kept=kept,
        recorded=recorded,
        resumed_codes=resumed_codes,
        ref_code=ref_code,
    )


@slow
def test_pair_trains_resumes_after_kill_and_finishes(runs):
    tmp, run = runs["tmp"], runs["run"]
    assert runs["first_codes"][1] == -signal.SIGKILL
    assert runs["resumed_codes"] == [0, 0], (tmp / "resumed-0.log").read_text()[-3000:]
    assert runs["ref_code"] == 0, (tmp / "ref.log").read_text()[-3000:]
    assert json.loads((run / "checkpoints" / "format.json").read_text()) == {"format": "orbax", "num_processes": 2}
    assert runs["kept"] == runs["recorded"] == ["0", str(PAUSE_AT)]  # log.keep_checkpoints: 2 by default
    assert sorted(p.name for p in (run / "checkpoints" / "orbax").iterdir()) == ["4", "6"]
    assert sorted(json.loads((run / "checkpoints" / "orbax_sha256.json").read_text())["steps"]) == ["4", "6"]
    assert not (run / "checkpoints" / "latest.msgpack").exists()
    report = json.loads((run / "eval.json").read_text())
    assert report["episodes"] == 8
    # Process 0 alone writes TensorBoard events: one file per launch of the pair.
    assert len(list(run.glob("events.out.tfevents.*"))) == 2
    log = (tmp / "resumed-0.log").read_text()
    warnings = [line for line in log.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"orbax/{PAUSE_AT}/" in warnings[0] and "checksum mismatch" in warnings[0], log[-3000:]
    assert warnings[0].endswith("orbax/0 (iteration 0) instead"), warnings
    assert f"resumed {run} at iteration 0 of 6" in log
    assert "warning:" not in (tmp / "resumed-1.log").read_text()  # process 0 alone says it


@slow
def test_processes_agree_after_every_chunk(runs):
    tmp = runs["tmp"]
    for tag, updates in (("first", (0, PAUSE_AT)), ("resumed", (PAUSE_AT, 4, 6))):
        hashes = [_chunks(tmp / f"{tag}-{i}.log") for i in range(2)]
        assert sorted(hashes[0]) == list(updates), hashes
        assert hashes[0] == hashes[1], tag


@slow
def test_pair_matches_one_process_over_two_devices(runs):
    tmp = runs["tmp"]
    pairs = ((0, "out-first"), (PAUSE_AT, "out-first"), (PAUSE_AT, "out-resumed"), (4, "out-resumed"), (6, "out-resumed"))
    for update, out in pairs:
        pair, ref = _params(tmp / out, update), _params(tmp / "out-ref", update)
        assert len(pair) == len(ref)
        for a, b in zip(pair, ref):
            np.testing.assert_array_equal(a, b, err_msg=f"update {update}")


@slow
def test_lost_peer_stops_the_survivor_with_one_line(runs):
    tmp = runs["tmp"]
    assert runs["first_codes"][0] == 4
    assert runs["survivor_s"] < 60
    log = (tmp / "first-0.log").read_text()  # may also hold XLA's slow-compile alarms on a busy machine
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: lost contact with another process"), log[-3000:]
    assert "Traceback" not in log and "Check failure" not in log, log[-3000:]


@slow
def test_resume_on_another_process_count_is_one_line(runs, capsys):
    assert cli.main(["train", "--resume", str(runs["run"]), "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "was trained by 2 process(es)" in lines[0], lines


@slow
def test_one_process_reads_the_pairs_checkpoint(runs):
    """`restore_latest` brings a two-process orbax checkpoint into this single process."""
    import jax

    from do1rl.experiments.global_checkpoint import restore_latest
    from do1rl.experiments.runs import load_config
    from do1rl.experiments.trainer import Trainer

    run = runs["run"]
    state, meta = restore_latest(run, Trainer(load_config(run)).state_shape)
    assert meta["update"] == 6
    for a, b in zip(jax.tree.leaves(state.params), _params(runs["tmp"] / "out-ref", 6)):
        np.testing.assert_array_equal(np.asarray(a), b)


@slow
def test_one_process_falls_back_to_the_pairs_kept_step(runs, tmp_path, capsys):
    """A damaged newest step of a two-process run: `restore_latest` uses the kept one before it, with one line."""
    import shutil

    import jax

    from do1rl.experiments.global_checkpoint import restore_latest
    from do1rl.experiments.runs import load_config
    from do1rl.experiments.trainer import Trainer

    run = Path(shutil.copytree(runs["run"], tmp_path / "run"))
    _damage(run / "checkpoints" / "orbax" / "6")
    capsys.readouterr()
    config = load_config(run)
    state, meta = restore_latest(run, Trainer(config).state_shape, config)
    assert meta["update"] == 4
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "orbax/6/" in lines[0] and lines[0].endswith("orbax/4 (iteration 4) instead"), lines
    for a, b in zip(jax.tree.leaves(state.params), _params(runs["tmp"] / "out-ref", 4)):
        np.testing.assert_array_equal(np.asarray(a), b)
