"""`StopFlag`: SIGINT/SIGTERM become a flag that the training loop checks between chunks.

Where work is abandoned rather than finished (the final evaluation, after
the last checkpoint), `StopFlag.abandon_on_signal` makes a signal raise
`Stopped` at once instead.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any


class Stopped(Exception):
    """A SIGINT/SIGTERM inside `StopFlag.abandon_on_signal`."""


class StopFlag:
    """Turns the first SIGINT/SIGTERM into a flag checked between chunks."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}  # signal -> the handler it had
        self._abandon = False

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signal is not None and not self._abandon:  # a second signal: stop at once
            raise KeyboardInterrupt
        self.signal = signum
        if self._abandon:
            raise Stopped

    @contextlib.contextmanager
    def abandon_on_signal(self):
        """Within: a signal (or one already flagged) raises `Stopped`, at the next Python bytecode."""
        if self.signal is not None:
            raise Stopped
        self._abandon = True
        try:
            yield
        finally:
            self._abandon = False

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
