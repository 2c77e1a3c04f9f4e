"""`StopFlag`: a signal during a long call is answered at once; the call's own result and errors pass through."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from do1rl.experiments import config as config_lib
from do1rl.experiments import signals, training
from do1rl.experiments.signals import StopFlag, Stopped
from do1rl.experiments.train_config import TrainConfig
from do1rl.experiments.trainer import Trainer


@pytest.fixture
def released():
    """An event a blocked worker waits on; set (and the worker ended) after the test."""
    event = threading.Event()
    yield event
    event.set()
    for worker in signals._abandoned:
        worker.join(10)
    signals._abandoned.clear()


def _signal_then_block(released: threading.Event, sig=signal.SIGTERM):
    def blocked(*_):  # stands for a chunk that compiles or runs for minutes
        os.kill(os.getpid(), sig)
        released.wait(60)
        raise RuntimeError("an abandoned call's result is never used")

    return blocked


def test_results_and_errors_pass_through():
    with StopFlag() as stop:
        assert stop.run(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ZeroDivisionError):
            stop.run(lambda: 1 / 0)
    assert stop.signal is None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_long_call_is_answered_at_once(sig, released, monkeypatch):
    monkeypatch.setattr(signals, "_wait_for_abandoned", False)  # as the `do1rl` program runs it
    with StopFlag() as stop:
        start = time.perf_counter()
        with pytest.raises(Stopped):
            stop.run(_signal_then_block(released, sig))
        assert time.perf_counter() - start < 2  # the call itself would block for a minute
        assert stop.signal == sig and stop.name == signal.Signals(sig).name
        assert signals.abandoned_work()
        with pytest.raises(Stopped):  # once signalled, no further call starts
            stop.run(lambda: 1)
    released.set()
    signals._abandoned[0].join(10)
    assert not signals.abandoned_work()


def test_a_library_caller_gets_control_back_when_the_abandoned_call_ends(released):
    def release_soon():
        time.sleep(0.5)
        released.set()

    threading.Thread(target=release_soon).start()
    with StopFlag() as stop, pytest.raises(Stopped):
        stop.run(_signal_then_block(released))
    assert released.is_set() and not signals.abandoned_work()  # __exit__ waited for it


def test_without_abandoning_a_call_runs_to_its_end():
    """Several processes: a process that left a collective would hang its peers; the loop checks between chunks."""
    with StopFlag(abandon=False) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
        assert stop.signal == signal.SIGTERM
        assert stop.run(lambda: 7) == 7


def test_a_stop_before_the_first_checkpoint_removes_what_the_start_wrote(tmp_path, released, monkeypatch):
    config = config_lib.load(TrainConfig, None, ["network.family=mlp", "network.depth=4", "network.width=8", "env.args={depth: 2}"])
    trainer = Trainer(config)
    monkeypatch.setattr(trainer, "init", _signal_then_block(released))
    monkeypatch.setattr(signals, "_wait_for_abandoned", False)
    lines: list[str] = []
    run = tmp_path / "run"
    start = time.perf_counter()
    assert training.train_run(config, run, trainer=trainer, progress=False, log=lines.append) == training.INTERRUPTED
    assert time.perf_counter() - start < 10
    assert lines == ["SIGTERM: stopped before the run's first checkpoint; removed what this start wrote"]
    assert {p.name for p in run.iterdir()} <= {".lock"}  # the corrected rerun is not refused
