"""`do1rl` run as a program: signals outside the training loop, and unwritable or closed stdout, end in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow  # real processes (the slow lane, docs/testing.md)

COMMAND = [sys.executable, "-m", "do1rl"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_or_eval_is_one_line_and_exit_130(sig):
    """Before: a KeyboardInterrupt traceback printed from JAX's gc hook, then the run went on (or XLA segfaulted)."""
    for delay in (1.0, 6.0):  # while importing JAX, and while compiling or playing
        proc = subprocess.Popen(
            [*COMMAND, "eval", "--agent", "mcts", "--episodes", "300", "--no-progress"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err[-2000:]
        assert err.strip().splitlines() == [f"interrupted ({signal.Signals(sig).name})"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_one_long_xla_call_is_answered_within_5_s(sig):
    """Before: the main thread sat in one XLA call (an MCTS evaluation without a progress bar is one program),
    and Python runs signal handlers only in the main thread: no answer within 120 s. Now the command runs in a
    worker thread and the main thread answers at once."""
    proc = subprocess.Popen(
        [*COMMAND, "eval", "--agent", "mcts", "--episodes", "20000", "--env-arg", "depth=6", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(10.0)  # compiling or playing: either way inside XLA
    assert proc.poll() is None
    sent = time.perf_counter()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.perf_counter() - sent < 5
    assert proc.returncode == 130 and err.strip().splitlines() == [f"interrupted ({signal.Signals(sig).name})"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_to_a_full_device_is_one_line():
    with open("/dev/full", "w") as full:
        out = subprocess.run([*COMMAND, "config", "show", "ppo_mlp"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.strip().splitlines() == ["error: cannot write (No space left on device)"]


def test_closed_stdout_is_not_a_crash():
    out = subprocess.run(
        [*COMMAND, "config", "show", "ppo_mlp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr
