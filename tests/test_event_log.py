"""TensorBoard scalars in step with checkpoints (issue 25): none lost to a kill, none written twice."""

from __future__ import annotations

from collections import Counter

from do1rl.experiments.event_log import EVENT_FILES, ScalarLog, read_scalars


def _pairs(run) -> Counter:
    return Counter((tag, step) for tag, step, _ in read_scalars(run))


def test_committed_scalars_read_back_in_order(tmp_path):
    log = ScalarLog(tmp_path)
    log.add_scalar("loss/policy", 0.5, 10)
    log.add_scalar("perf/steps_per_s", 123.0, 10)
    assert read_scalars(tmp_path) == []  # buffered until the checkpoint that covers them is saved
    log.commit()
    assert read_scalars(tmp_path) == [("loss/policy", 10, 0.5), ("perf/steps_per_s", 10, 123.0)]
    log.close()


def test_a_redone_chunk_writes_nothing_twice(tmp_path):
    first = ScalarLog(tmp_path)
    first.add_scalar("a", 1.0, 1)
    first.add_scalar("a", 2.0, 2)
    first.commit()  # then killed before the checkpoint: the resumed run redoes step 2
    first.close()
    again = ScalarLog(tmp_path)
    again.add_scalar("a", 2.0, 2)
    again.add_scalar("a", 3.0, 3)
    again.commit()
    again.close()
    assert read_scalars(tmp_path) == [("a", 1, 1.0), ("a", 2, 2.0), ("a", 3, 3.0)]
    assert len(list(tmp_path.glob(EVENT_FILES))) == 2  # a new file per launch that wrote, none overwritten


def test_a_torn_last_record_is_skipped_and_rewritten(tmp_path):
    log = ScalarLog(tmp_path)
    for step in (1, 2):
        log.add_scalar("a", float(step), step)
    log.commit()
    log.close()
    (path,) = tmp_path.glob(EVENT_FILES)
    path.write_bytes(path.read_bytes()[:-7])  # killed inside the last record's write
    assert _pairs(tmp_path) == Counter({("a", 1): 1})
    redo = ScalarLog(tmp_path)
    redo.add_scalar("a", 2.0, 2)
    redo.commit()
    assert _pairs(tmp_path) == Counter({("a", 1): 1, ("a", 2): 1})


def test_no_event_file_without_a_scalar(tmp_path):
    log = ScalarLog(tmp_path)
    log.commit()
    log.close()
    assert not list(tmp_path.glob(EVENT_FILES))
