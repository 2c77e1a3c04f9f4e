"""TensorBoard scalars that no kill loses or repeats.

Per chunk, the training loop gives its scalars to a `ScalarLog` and commits
them (written and fsynced, synchronously) before it saves the checkpoint
that covers them. tensorboardX's `SummaryWriter` handed events to a
background thread whose queue `flush()` does not drain, so a kill lost them.
A kill between the commit and the checkpoint makes the resumed run redo the
chunk, bit for bit, and the log skips every (tag, step) pair its event files
already hold. So each pair is in the run's event files exactly once,
whatever the kills; a redone chunk keeps its first step-rate measurement.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto import event_pb2
from tensorboardX.summary import scalar, text

EVENT_FILES = "events.out.tfevents.*"
_HEADER = 12  # TFRecord framing: uint64 length, uint32 masked CRC of it; the data; uint32 masked CRC of the data


def read_events(run_dir: str | Path):
    """Every event in a run folder's event files, file by file in name order; a torn last record ends its file."""
    for path in sorted(Path(run_dir).glob(EVENT_FILES)):
        data, pos = path.read_bytes(), 0
        while pos + _HEADER <= len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            end = pos + _HEADER + length
            if end + 4 > len(data):
                break
            try:
                yield event_pb2.Event.FromString(data[pos + _HEADER : end])
            except DecodeError:
                break
            pos = end + 4


def read_scalars(run_dir: str | Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar (not text) in a run folder's event files, in file order."""
    return [
        (v.tag, int(e.step), float(v.simple_value))
        for e in read_events(run_dir)
        for v in e.summary.value
        if v.WhichOneof("value") == "simple_value"
    ]


def _pairs(run_dir: str | Path) -> set[tuple[str, int]]:
    """(tag, step) of every summary value, scalar or text, in a run folder's event files."""
    return {(v.tag, int(e.step)) for e in read_events(run_dir) for v in e.summary.value}


class ScalarLog:
    """A run folder's TensorBoard scalars, committed before the checkpoint that covers them (module docstring)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.pending: list[tuple[str, int, Any]] = []  # (tag, step, summary proto)
        self._written = {(tag, step) for tag, step in _pairs(self.run_dir)}
        self._writer: EventsWriter | None = None

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Buffers one scalar until `commit`."""
        self.pending.append((tag, int(step), scalar(tag, float(value))))

    def add_text(self, tag: str, body: str, step: int) -> None:
        """Buffers one text summary (TensorBoard's Text tab, as tag "<tag>/text_summary") until `commit`."""
        summary = text(tag, body)
        self.pending.append((summary.value[0].tag, int(step), summary))

    def commit(self) -> None:
        """Writes the buffered scalars the event files lack, fsyncs, and empties the buffer."""
        fresh = [(tag, step, summary) for tag, step, summary in self.pending if (tag, step) not in self._written]
        if fresh:
            writer = self._open()
            for tag, step, summary in fresh:
                writer.write_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
                self._written.add((tag, step))
            writer.flush()  # RecordWriter.flush fsyncs
        self.pending = []

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self) -> EventsWriter:
        if self._writer is None:  # a new file per launch, never one an earlier launch wrote
            count = len(list(self.run_dir.glob(EVENT_FILES)))
            self._writer = EventsWriter(str(self.run_dir / "events"), filename_suffix=f".{count}")
        return self._writer
