"""Journal: a write-ahead log of the commands that change the world, so that a process killed
with SIGKILL loses no command it acknowledged (the write-ahead logging pattern of databases).

A command (spawn, despawn, time_scale, pause, resume, and any later world-changing operation) is
applied by the request handler, appended here with ``record`` and flushed to the disk
(``fdatasync``) before its reply leaves. A checkpoint holds the world up to a journal position;
resuming restores the checkpoint, then re-applies every entry recorded after that position, in
order. What a SIGKILL loses is therefore only the ticks run since the last checkpoint, never an
acknowledged command.

Files, next to the checkpoint ``world.ckpt``: ``world.ckpt.journal.<generation>`` (eight digits).
Each file is

    MAGIC                      8 bytes, b"STJRNL1\\n"
    frame: header              {"lineage": str, "generation": int}
    frame: entry, entry, ...   {"op": str, "args": map, "tick": int}

and each frame is ``u32 payload length, u32 CRC-32 of the payload`` (little-endian), then the
payload, a msgpack map (numpy arrays and scalars travel as lists and numbers).

Rules:

1. ``record`` appends one frame and returns only once it is on the disk; a failure raises
   ``JournalError`` (the command was applied but is not durable: the caller says so).
2. A checkpoint records a ``JournalPosition``: it holds every entry of earlier generations of its
   lineage and the first ``entries`` entries of ``generation``.
3. Each checkpoint starts a generation first (``rotate``: the new file and its header are on the
   disk before the checkpoint names it), then is written atomically, then ``prune`` deletes the
   files it covers. A crash between any two steps leaves a checkpoint whose position replays
   exactly the entries it lacks; a rotation that fails keeps the current file (the position's
   entry count covers it).
4. Replay reads every file of the position's lineage from its generation on. A frame cut short at
   the end of a file is a write a crash interrupted, never acknowledged: it is dropped with a
   warning. Any other damage is a ``JournalError``: nothing is applied.
5. A run resumed from a checkpoint continues its lineage; a new world starts one. A checkpoint
   never replays another lineage's files, so two runs that shared a folder never mix commands.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

__all__ = [
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalPosition",
    "journal_files",
    "read_entries",
    "sync_folder",
]

log = logging.getLogger(__name__)

MAGIC = b"STJRNL1\n"
FRAME = struct.Struct("<II")
"""A frame's head: payload length in bytes, CRC-32 of the payload."""
MAX_FRAME_BYTES = 64 << 20
"""A longer length than this is damage, not a command (requests are at most a few MiB)."""
SUFFIX = ".journal."
GENERATION_DIGITS = 8


class JournalError(RuntimeError):
    """A journal cannot be written or read; the message names the file and the fix."""


@dataclass(frozen=True)
class JournalPosition:
    """A point in a lineage's journal: everything before it is in the checkpoint that names it.

    Attributes:
        lineage: the run history the journal belongs to (hex id, kept across resumes).
        generation: the file the position lies in.
        entries: entries of that file before the position.
    """

    lineage: str
    generation: int
    entries: int

    def to_json(self) -> dict[str, Any]:
        return {"lineage": self.lineage, "generation": self.generation, "entries": self.entries}

    @classmethod
    def from_json(cls, value: Any) -> JournalPosition:
        """The position a checkpoint stored; ValueError if it is not one."""
        ok = (
            isinstance(value, dict)
            and isinstance(value.get("lineage"), str)
            and re.fullmatch(r"[0-9a-f]{1,64}", value["lineage"]) is not None
            and all(_count(value.get(k)) for k in ("generation", "entries"))
        )
        if not ok:
            raise ValueError(f"not a journal position: {str(value)[:120]}")
        return cls(value["lineage"], value["generation"], value["entries"])


@dataclass(frozen=True)
class JournalEntry:
    """One recorded command: ``op`` and its ``args`` as the request handler applied them, the
    tick it was applied in, and where it lies (``generation``, ``index`` within the file)."""

    op: str
    args: dict[str, Any]
    tick: int
    generation: int
    index: int


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def journal_path(checkpoint: Path, generation: int) -> Path:
    """The journal file of ``generation`` next to ``checkpoint``."""
    return checkpoint.with_name(f"{checkpoint.name}{SUFFIX}{generation:0{GENERATION_DIGITS}d}")


def journal_files(checkpoint: Path) -> dict[int, Path]:
    """Every journal file next to ``checkpoint``, by generation."""
    pattern = re.compile(re.escape(checkpoint.name + SUFFIX) + r"(\d+)")
    try:
        names = os.listdir(checkpoint.parent)
    except OSError:
        return {}
    found = (pattern.fullmatch(name) for name in names)
    return {int(m.group(1)): checkpoint.parent / m.group(0) for m in found if m}


class Journal:
    """The journal a run appends to (``record``), next to its checkpoint.

    Args:
        checkpoint: the checkpoint the journal belongs to; its files lie beside it.
        lineage: the run history (``start`` picks it).
        generation: the file to create and append to.
        tick: the world's tick now, stored with each entry (for diagnosis; replay goes by order).

    Raises:
        JournalError: the file cannot be created.
    """

    def __init__(
        self,
        checkpoint: Path,
        lineage: str,
        generation: int,
        tick: Callable[[], int] | None = None,
    ) -> None:
        self.checkpoint = Path(checkpoint)
        self.lineage = lineage
        self.tick = tick or (lambda: 0)
        self._fd = -1
        self._replaying = False
        self._open(generation)

    @classmethod
    def start(
        cls,
        checkpoint: Path,
        after: JournalPosition | None = None,
        tick: Callable[[], int] | None = None,
    ) -> Journal:
        """A new generation next to ``checkpoint``, after every file already there: continuing
        the lineage of ``after`` (the position a resumed checkpoint named), else a new one."""
        lineage = after.lineage if after is not None else uuid.uuid4().hex
        existing = [*journal_files(Path(checkpoint)), after.generation if after else 0]
        return cls(checkpoint, lineage, max(existing) + 1, tick)

    @property
    def path(self) -> Path:
        return journal_path(self.checkpoint, self.generation)

    @property
    def position(self) -> JournalPosition:
        """Where the journal stands: a checkpoint written now holds every entry before it."""
        return JournalPosition(self.lineage, self.generation, self.entries)

    @contextlib.contextmanager
    def replaying(self) -> Iterator[None]:
        """While the block runs, ``record`` records nothing: the commands re-applied from the
        journal are in it already (recording them again would apply them twice on the next
        resume)."""
        self._replaying = True
        try:
            yield
        finally:
            self._replaying = False

    def record(self, op: str, args: dict[str, Any]) -> None:
        """Append one command and return once it is on the disk (fdatasync); nothing while
        ``replaying``.

        Raises:
            JournalError: it could not be written (disk full, read-only, closed journal); the
                file is cut back to its last whole entry, so later entries stay readable.
        """
        if self._replaying:
            return
        try:
            payload = _pack({"op": op, "args": args, "tick": int(self.tick())})
        except (TypeError, ValueError, OverflowError) as err:
            raise JournalError(f"journal {self.path}: cannot encode {op}: {err}") from None
        if self._fd < 0:
            raise JournalError(f"journal {self.path} is closed: {op} was not recorded")
        frame = _frame(payload)
        try:
            _write_all(self._fd, frame)
            _sync(self._fd)
        except OSError as err:
            self._cut_back()
            raise JournalError(
                f"journal {self.path}: cannot record {op} ({err.strerror}); fix: free space or "
                "make the checkpoint's folder writable"
            ) from None
        self.entries += 1
        self._size += len(frame)

    def rotate(self) -> JournalPosition:
        """Start the next generation (before a checkpoint). On failure the journal keeps its
        current file, logs why, and the position stays exact (rule 3)."""
        previous = (self._fd, self.generation, self.entries, self._size)
        try:
            self._open(self.generation + 1)
        except JournalError as err:
            self._fd, self.generation, self.entries, self._size = previous
            log.error("%s; commands go on into %s", err, self.path)
            return self.position
        if previous[0] >= 0:
            os.close(previous[0])
        return self.position

    def prune(self, covered: JournalPosition) -> None:
        """Delete the files a checkpoint at ``covered`` holds: earlier generations, and other
        lineages' files (a checkpoint of this lineage has replaced theirs). Never raises."""
        for generation, path in journal_files(self.checkpoint).items():
            if generation >= covered.generation and _lineage_of(path) == covered.lineage:
                continue
            try:
                path.unlink()
            except OSError as err:
                log.warning("journal %s could not be deleted: %s", path, err.strerror)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _cut_back(self) -> None:
        """After a failed append: drop its partial frame; if even that fails, close the file
        (later records fail loudly until ``rotate`` opens a new one)."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as err:
            log.error("journal %s: cannot drop a partial entry (%s): closed", self.path, err)
            self.close()

    def _open(self, generation: int) -> None:
        """Create ``generation``'s file with its header, on the disk with its folder entry."""
        path = journal_path(self.checkpoint, generation)
        header = MAGIC + _frame(_pack({"lineage": self.lineage, "generation": generation}))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        except OSError as err:
            raise JournalError(
                f"journal {path}: cannot create it ({err.strerror}); fix: make the checkpoint's "
                "folder writable or choose another --checkpoint"
            ) from None
        try:
            _write_all(fd, header)
            os.fsync(fd)
            sync_folder(path.parent)
        except OSError as err:
            os.close(fd)
            raise JournalError(f"journal {path}: cannot write it ({err.strerror})") from None
        self._fd, self.generation, self.entries, self._size = fd, generation, 0, len(header)


def read_entries(checkpoint: Path, position: JournalPosition) -> Iterator[JournalEntry]:
    """Every entry after ``position`` in the files next to ``checkpoint``, in order (rule 4).

    Raises:
        JournalError: a file of the lineage is damaged beyond a torn last frame.
    """
    for generation, path in sorted(journal_files(Path(checkpoint)).items()):
        if generation < position.generation or _lineage_of(path) != position.lineage:
            continue
        skip = position.entries if generation == position.generation else 0
        for index, body in enumerate(_entries_of(path)):
            if index >= skip:
                yield _entry(path, body, generation, index)


def _entry(path: Path, body: Any, generation: int, index: int) -> JournalEntry:
    ok = (
        isinstance(body, dict)
        and isinstance(body.get("op"), str)
        and isinstance(body.get("args"), dict)
        and isinstance(body.get("tick", 0), int)
    )
    if not ok:
        raise JournalError(
            f"journal {path}: entry {index} is not a command; fix: delete the journal file to "
            "resume without its commands"
        )
    return JournalEntry(body["op"], body["args"], body.get("tick", 0), generation, index)


def _lineage_of(path: Path) -> str | None:
    """The lineage a file's header names; None for a file without a readable header."""
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC) + FRAME.size)
            if len(head) < len(MAGIC) + FRAME.size or not head.startswith(MAGIC):
                return None
            size, crc = FRAME.unpack_from(head, len(MAGIC))
            payload = f.read(min(size, 4096))
    except OSError:
        return None
    if len(payload) != size or zlib.crc32(payload) != crc:
        return None
    try:
        header = _unpack(payload, path)
    except JournalError:
        return None
    return header.get("lineage") if isinstance(header, dict) else None


def _entries_of(path: Path) -> Iterator[Any]:
    """The decoded entries of one file (its header frame skipped)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise JournalError(f"journal {path}: cannot read it ({err.strerror})") from None
    if not data.startswith(MAGIC):
        raise JournalError(
            f"journal {path} is not a SynthTwin journal; fix: move it away to resume without it"
        )
    frames = _frames(data[len(MAGIC) :], path)
    next(frames, None)
    yield from frames


def _frames(data: bytes, path: Path) -> Iterator[Any]:
    """Decoded payloads of consecutive frames. The end of the data inside a frame, a bad last
    frame or a zero-filled tail is a torn write (dropped, logged); a bad frame before the last
    is damage."""
    offset = 0
    while offset < len(data):
        if not any(data[offset:]) or len(data) - offset < FRAME.size:
            log.warning("journal %s: a torn last entry (never acknowledged) is dropped", path)
            return
        size, crc = FRAME.unpack_from(data, offset)
        end = offset + FRAME.size + size
        payload = data[offset + FRAME.size : end]
        if size <= MAX_FRAME_BYTES and zlib.crc32(payload) == crc:
            yield _unpack(payload, path)
            offset = end
            continue
        if size <= MAX_FRAME_BYTES and end >= len(data):
            log.warning("journal %s: a torn last entry (never acknowledged) is dropped", path)
            return
        raise JournalError(
            f"journal {path}: damaged entry at byte {len(MAGIC) + offset}; fix: move the "
            "journal file away to resume without its commands (they would be lost)"
        )


def _pack(value: dict[str, Any]) -> bytes:
    return msgpack.packb(value, default=_plain, use_bin_type=True)


def _plain(value: Any) -> Any:
    """msgpack's fallback: numpy arrays and scalars as lists and numbers, paths as text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _unpack(payload: bytes, path: Path) -> Any:
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise JournalError(f"journal {path}: unreadable entry ({err})") from None


def _frame(payload: bytes) -> bytes:
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync(fd: int) -> None:
    """The file's data on the disk (``fdatasync`` where the system has it)."""
    getattr(os, "fdatasync", os.fsync)(fd)


def sync_folder(folder: Path) -> None:
    """A new file's folder entry on the disk (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
