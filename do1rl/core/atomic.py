"""Atomic file writes: a temporary file in the target's folder, flushed to disk, then renamed.

A reader (or a crash) sees either the old file or the new one, never a torn
one. Every file do1rl writes for users goes through here: results, reports,
configs, circuit files and checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replaces `path` with `data` atomically, creating its folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """`write_bytes` of UTF-8 text."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: Any, default=None) -> None:
    """`data` as indented JSON, atomically (`default` as in `json.dumps`)."""
    write_text(path, json.dumps(data, indent=1, default=default) + "\n")
