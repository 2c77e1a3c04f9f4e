"""Atomic file writes: a temporary file in the target's folder, flushed to disk, then renamed.

A reader (or a crash) sees either the old file or the new one, never a torn
one. Every file do1rl writes for users goes through here: results, reports,
configs, circuit files and checkpoints.

Only regular files are ever replaced: a target that is a directory, a
device, a FIFO or a socket (or a symlink to one) is refused with
`WriteError`, and a symlink to a regular file is written through (its
target is replaced, the link kept). A new file gets the user's umask
(0666 & ~umask); a replaced file keeps its mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from do1rl.core.limits import file_kind

__all__ = ["WriteError", "check_target", "write_bytes", "write_json", "write_text"]


class WriteError(OSError):
    """A file that cannot be written (one line: the path and why)."""

    def __str__(self) -> str:  # OSError's default adds "[Errno ...]"
        return str(self.args[0]) if self.args else ""


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no portable read-only query elsewhere
    os.umask(mask)
    return mask


def _resolve(path: str | os.PathLike) -> tuple[Path, int]:
    """(the file to replace, the mode to give it) for writing `path`; WriteError if it must not be written.

    Follows symlinks, refuses non-regular targets and makes the folder.
    """
    path = Path(path)
    try:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if os.path.islink(path):
                raise WriteError(f"{path}: a symlink to a missing file; refusing to write through it") from None
            real, mode = path, 0o666 & ~_umask()
        else:
            if not stat.S_ISREG(info.st_mode):
                raise WriteError(f"{path}: {file_kind(info.st_mode)}; refusing to replace it with a file")
            real, mode = Path(os.path.realpath(path)), stat.S_IMODE(info.st_mode)
        real.parent.mkdir(parents=True, exist_ok=True)
    except WriteError:
        raise
    except OSError as err:
        raise WriteError(f"{path}: cannot write: {err.strerror or err}") from None
    return real, mode


def check_target(path: str | os.PathLike) -> None:
    """WriteError now if `write_bytes(path, ...)` could not write `path`.

    Lets a command validate its output before the work that fills it: the
    target must be a regular file or missing, and a file must be creatable
    in its folder (which is made if needed).
    """
    real, _ = _resolve(path)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{real.name}.tmp-", dir=real.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise WriteError(f"{path}: cannot write: {err.strerror or err}") from None


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replaces `path` with `data` atomically, creating its folder if needed.

    Raises WriteError (an OSError, one line) if it cannot, e.g. a read-only
    or full disk, or a target that is not a regular file.
    """
    real, mode = _resolve(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.tmp-", dir=real.parent)
    except OSError as err:
        raise WriteError(f"{path}: cannot write: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise WriteError(f"{path}: cannot write: {err.strerror or err}") from None
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """`write_bytes` of UTF-8 text."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: Any, default=None) -> None:
    """`data` as indented JSON, atomically (`default` as in `json.dumps`)."""
    write_text(path, json.dumps(data, indent=1, default=default) + "\n")
