"""`StopFlag`: SIGINT/SIGTERM become a flag that the training loop checks between chunks."""

from __future__ import annotations

import contextlib
import signal


class StopFlag:
    """Turns the first SIGINT/SIGTERM into a flag checked between chunks."""

    def __init__(self):
        self.signal: int | None = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signal is not None:  # a second signal: stop at once
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
