"""`StopFlag`: SIGINT/SIGTERM become a flag that the training loop checks between chunks.

Long calls (a chunk with its compile, an evaluation) go through
`StopFlag.run`, which runs them in a worker thread so that a signal is
answered within a fraction of a second: the call raises `Stopped` and the
worker is abandoned, since XLA work cannot be cancelled. A library caller
gets control back once the abandoned worker ends (`StopFlag.__exit__` waits
for it); the `do1rl` program, which called `exit_without_waiting`, ends the
process at once instead (`abandoned_work`, then `os._exit`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_POLL_S = 0.05  # how often a waiting main thread looks at the flag
_abandoned: list[threading.Thread] = []  # workers left running by a `Stopped`
_wait_for_abandoned = True


class Stopped(Exception):
    """A SIGINT/SIGTERM during `StopFlag.run`, or before it."""


def exit_without_waiting() -> None:
    """For a program that ends with `os._exit` after a stop: `StopFlag` leaves abandoned workers running."""
    global _wait_for_abandoned
    _wait_for_abandoned = False


def abandoned_work() -> bool:
    """Whether a worker abandoned by a stop is still running."""
    return any(t.is_alive() for t in _abandoned)


class StopFlag:
    """Turns the first SIGINT/SIGTERM into a flag; a second one raises KeyboardInterrupt.

    `abandon`: whether `run` may leave a call running when a signal comes (not
    in a multi-process run, whose peers would wait in a collective for it).
    """

    def __init__(self, abandon: bool = True) -> None:
        self.signal: int | None = None
        self.abandon = abandon
        self._old: dict[int, Any] = {}  # signal -> the handler it had
        self._installed = False

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[sig] = signal.signal(sig, self._handle)
        self._installed = bool(self._old)
        return self

    def _handle(self, signum, frame):
        if self.signal is not None:  # a second signal: stop at once
            raise KeyboardInterrupt
        self.signal = signum

    @property
    def name(self) -> str:
        """The signal's name, e.g. "SIGTERM" (after one came)."""
        return signal.Signals(self.signal).name if self.signal is not None else "a signal"

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)`, its arrays ready; raises `Stopped` when a signal comes first or meanwhile."""
        import jax  # here: the `do1rl` program imports this module before it needs jax

        if not (self.abandon and self._installed):  # checked between chunks only
            return jax.block_until_ready(fn(*args))
        if self.signal is not None:
            raise Stopped
        out: list = []

        def work():
            try:
                out.append((True, jax.block_until_ready(fn(*args))))
            except BaseException as err:  # handed to the caller's thread
                out.append((False, err))

        worker = threading.Thread(target=work, name="do1rl-work", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(_POLL_S)
                if self.signal is not None and worker.is_alive():
                    raise Stopped
        finally:  # also when a second signal raised KeyboardInterrupt while waiting
            if worker.is_alive():
                _abandoned.append(worker)
        ok, value = out[0]
        if not ok:
            raise value
        return value

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        if _wait_for_abandoned:
            for worker in _abandoned:
                worker.join()
            _abandoned.clear()
