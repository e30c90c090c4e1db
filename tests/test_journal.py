"""The command journal (engine/journal.py): durable appends, positions, rotation, pruning, torn
tails dropped, damage refused, lineages kept apart."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from synthtwin.engine.journal import (
    MAGIC,
    Journal,
    JournalError,
    JournalPosition,
    journal_files,
    read_entries,
)


def ops(checkpoint, position) -> list[tuple[str, dict]]:
    return [(e.op, e.args) for e in read_entries(checkpoint, position)]


def test_entries_after_a_position_replay_in_order_across_generations(tmp_path):
    ckpt = tmp_path / "w.ckpt"
    journal = Journal.start(ckpt, tick=lambda: 42)
    start = journal.position
    journal.record("spawn", {"count": 3, "seed": np.int64(5)})
    journal.record("despawn", {"ids": np.array([1, 2], np.uint32)})
    middle = journal.position
    journal.rotate()
    journal.record("pause", {})
    journal.close()
    assert start == JournalPosition(start.lineage, 1, 0) and middle.entries == 2
    assert ops(ckpt, start) == [
        ("spawn", {"count": 3, "seed": 5}),
        ("despawn", {"ids": [1, 2]}),
        ("pause", {}),
    ]
    assert ops(ckpt, middle) == [("pause", {})]
    assert [e.tick for e in read_entries(ckpt, start)] == [42, 42, 42]
    assert sorted(journal_files(ckpt)) == [1, 2]


def test_prune_keeps_only_what_the_checkpoint_lacks(tmp_path):
    ckpt = tmp_path / "w.ckpt"
    other = Journal.start(ckpt)  # another lineage's leftovers in the same folder
    other.record("spawn", {"count": 1})
    other.close()
    journal = Journal.start(ckpt)
    assert journal.generation == 2 and journal.lineage != other.lineage
    journal.record("spawn", {"count": 2})
    covered = journal.rotate()
    journal.prune(covered)
    assert sorted(journal_files(ckpt)) == [3]
    journal.record("resume", {})
    assert ops(ckpt, covered) == [("resume", {})]


def test_a_resumed_run_continues_its_lineage_after_every_existing_file(tmp_path):
    ckpt = tmp_path / "w.ckpt"
    first = Journal.start(ckpt)
    first.record("spawn", {"count": 1})
    position = first.position
    first.close()
    second = Journal.start(ckpt, after=JournalPosition(position.lineage, 1, 0))
    assert (second.lineage, second.generation) == (position.lineage, 2)
    second.record("pause", {})
    assert ops(ckpt, JournalPosition(position.lineage, 1, 0)) == [
        ("spawn", {"count": 1}),
        ("pause", {}),
    ]
    assert ops(ckpt, JournalPosition("0ther", 1, 0)) == []


def test_a_torn_last_entry_is_dropped_and_logged(tmp_path, caplog):
    ckpt = tmp_path / "w.ckpt"
    journal = Journal.start(ckpt)
    journal.record("spawn", {"count": 1})
    journal.record("spawn", {"count": 2})
    journal.close()
    path = journal.path
    whole = path.read_bytes()
    for cut in (1, 5, 9):
        path.write_bytes(whole[:-cut])
        with caplog.at_level(logging.WARNING):
            assert ops(ckpt, journal.position.__class__(journal.lineage, 1, 0)) == [
                ("spawn", {"count": 1})
            ]
        assert "torn last entry" in caplog.text
    path.write_bytes(whole + bytes(64))  # a zero-filled tail after a crash
    assert len(ops(ckpt, JournalPosition(journal.lineage, 1, 0))) == 2


def test_damage_before_the_last_entry_is_refused(tmp_path):
    ckpt = tmp_path / "w.ckpt"
    journal = Journal.start(ckpt)
    ends = []
    for count in (1, 2, 3):
        journal.record("spawn", {"count": count})
        ends.append(journal.path.stat().st_size)
    journal.close()
    data = bytearray(journal.path.read_bytes())
    data[(ends[0] + ends[1]) // 2] ^= 0xFF  # inside the second of three entries
    journal.path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=r"damaged entry at byte \d+; fix: move the journal"):
        ops(ckpt, JournalPosition(journal.lineage, 1, 0))
    journal.path.write_bytes(b"not a journal at all, but long enough")
    assert ops(ckpt, JournalPosition(journal.lineage, 1, 0)) == []  # no header: not its lineage
    journal.path.write_bytes(MAGIC + b"\xff" * 20)
    assert ops(ckpt, JournalPosition(journal.lineage, 1, 0)) == []


def test_a_failed_append_leaves_the_journal_readable(tmp_path, monkeypatch):
    ckpt = tmp_path / "w.ckpt"
    journal = Journal.start(ckpt)
    journal.record("spawn", {"count": 1})
    import synthtwin.engine.journal as module

    real_sync = module._sync

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "_sync", full_disk)
    with pytest.raises(JournalError, match="cannot record pause \\(No space left on device\\)"):
        journal.record("pause", {})
    monkeypatch.setattr(module, "_sync", real_sync)
    journal.record("resume", {})
    assert ops(ckpt, JournalPosition(journal.lineage, 1, 0)) == [
        ("spawn", {"count": 1}),
        ("resume", {}),
    ]
    assert journal.entries == 2


def test_an_unwritable_folder_and_unencodable_args_raise_journal_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot create it"):
        Journal.start(blocker / "w.ckpt")
    journal = Journal.start(tmp_path / "w.ckpt")
    with pytest.raises(JournalError, match="cannot encode spawn"):
        journal.record("spawn", {"what": object()})
    journal.close()
    with pytest.raises(JournalError, match="is closed"):
        journal.record("pause", {})


def test_a_failed_rotation_keeps_the_current_file_and_an_exact_position(tmp_path, monkeypatch):
    journal = Journal.start(tmp_path / "w.ckpt")
    journal.record("spawn", {"count": 1})
    import synthtwin.engine.journal as module

    monkeypatch.setattr(module.os, "open", lambda *a, **k: (_ for _ in ()).throw(OSError(30, "x")))
    position = journal.rotate()
    monkeypatch.undo()
    assert position == JournalPosition(journal.lineage, 1, 1)
    journal.record("pause", {})
    assert ops(tmp_path / "w.ckpt", position) == [("pause", {})]


def test_an_append_takes_milliseconds_at_most(tmp_path):
    """The reply latency a command pays for durability: one write and one fdatasync."""
    journal = Journal.start(tmp_path / "w.ckpt")
    started = time.perf_counter()
    for _ in range(50):
        journal.record("spawn", {"count": 10, "seed": 3})
    per_record_ms = (time.perf_counter() - started) / 50 * 1000
    assert per_record_ms < 50, per_record_ms
