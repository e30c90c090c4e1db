"""Durability of a served world: checkpoints and the command journal between them.

``twin serve`` writes a checkpoint as soon as it runs, then every ``checkpoint_every_s`` wall
seconds, then at shutdown; between checkpoints every acknowledged world-changing command is in the
journal (``engine.journal``), appended and flushed before its reply. So:

- a SIGKILL (or a power cut) loses at most the ticks run since the last checkpoint, never an
  acknowledged command: resuming restores the checkpoint, then re-applies the journal's later
  entries in order (spawned twins come back with their ids; their state is that of the
  checkpoint's tick, not of the tick they were spawned in);
- a periodic checkpoint that fails is logged and retried with back-off (``RETRY_FIRST_S``,
  doubling up to ``RETRY_MAX_S``); the simulation keeps running and the journal keeps growing;
- at shutdown, a checkpoint that cannot be written (read-only or full disk) goes to the first
  fallback that works (``fallback_paths``), and the caller is told where (``saved_to``).

Each checkpoint follows the journal's rotation rule: a new generation first (when the current one
holds entries), then the checkpoint naming it, then the covered files pruned.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthtwin.engine.app.simulation import Simulation
from synthtwin.engine.checkpoint import (
    CheckpointError,
    CheckpointInfo,
    LoopSettings,
    save_checkpoint,
)
from synthtwin.engine.config import MAX_DT_S, ServeConfig
from synthtwin.engine.journal import Journal, JournalError, read_entries

__all__ = ["Durability", "ShutdownSave", "fallback_paths"]

log = logging.getLogger(__name__)

RETRY_FIRST_S = 5.0
"""Wall seconds before the first retry of a failed periodic checkpoint."""
RETRY_MAX_S = 60.0
"""The longest wait between retries (or the checkpoint period, if longer)."""

Apply = Callable[[str, dict[str, Any]], None]
"""Re-applies one journaled command (``net.requests.RequestHandler.apply``)."""


@dataclass(frozen=True)
class ShutdownSave:
    """Where the world went at shutdown.

    Attributes:
        path: the file written; None when no path could be written.
        errors: why each path tried before it (or every path) failed, one line each.
    """

    path: Path | None
    errors: tuple[str, ...]

    @property
    def fell_back(self) -> bool:
        return self.path is not None and bool(self.errors)


def fallback_paths(config: ServeConfig) -> list[Path]:
    """Where the world goes at shutdown when ``config.checkpoint`` cannot be written, in order:
    ``checkpoint_fallback`` if set, ``~/.local/state/synthtwin/``, the temporary folder."""
    name = config.checkpoint.name
    candidates = [
        config.checkpoint_fallback,
        Path.home() / ".local" / "state" / "synthtwin" / name,
        Path(tempfile.gettempdir()) / f"synthtwin-{os.getuid()}" / name,
    ]
    unique = []
    for path in candidates:
        if path is not None and path != config.checkpoint and path not in unique:
            unique.append(path)
    return unique


class Durability:
    """The checkpoints and journal of one served simulation (module docstring).

    Args:
        sim: the simulation to save.
        config: where and how often to save.
        resumed: what the checkpoint the world was restored from recorded (None: a new world).
        before_save: called before each checkpoint is written (the health record's flush:
            ``engine.app.record.Recorder.flush``, so it holds everything the checkpoint covers).

    Raises:
        JournalError: the journal cannot be created next to ``config.checkpoint``.
    """

    def __init__(
        self,
        sim: Simulation,
        config: ServeConfig,
        resumed: CheckpointInfo | None = None,
        before_save: Callable[[], None] | None = None,
    ) -> None:
        self.sim = sim
        self.config = config
        self.before_save = before_save
        after = resumed.journal if resumed is not None else None
        self.journal = Journal.start(config.checkpoint, after, tick=lambda: sim.world.tick)
        self.failures = 0
        self.next_due_s = time.monotonic()
        self.last_saved_s: float | None = None

    def restore(
        self,
        resume: Path,
        info: CheckpointInfo,
        apply: Apply | None,
        time_scale: float | None = None,
    ) -> int:
        """The loop's settings and the journal's entries after the checkpoint, re-applied;
        then ``time_scale``, if given (the operator's explicit choice wins over both).

        Returns:
            how many journaled commands were re-applied.

        Raises:
            JournalError: the journal is damaged, or it holds entries and nothing can apply them.
        """
        self._restore_loop(info.loop)
        entries = list(read_entries(resume, info.journal)) if info.journal else []
        if entries and apply is None:
            raise JournalError(
                f"journal of {resume}: {len(entries)} command(s) to replay, but this build's "
                "request handler cannot apply them (RequestHandler.apply)"
            )
        with self.journal.replaying():
            for entry in entries:
                self._apply(apply, entry.op, entry.args, entry.generation, entry.index)
        if entries:
            log.info("replayed %d journaled command(s) after %s", len(entries), resume)
        if time_scale is not None:
            self.sim.loop.time_scale = time_scale
        return len(entries)

    def _restore_loop(self, settings: LoopSettings | None) -> None:
        loop = self.sim.loop
        if settings is None:
            return
        if settings.time_scale / loop.tick_hz > MAX_DT_S:
            log.warning(
                "the checkpoint's time scale %g is too fast at %g Hz; keeping %g",
                settings.time_scale,
                loop.tick_hz,
                loop.time_scale,
            )
        else:
            loop.time_scale = settings.time_scale
        loop.paused = settings.paused

    @staticmethod
    def _apply(apply: Apply, op: str, args: dict[str, Any], generation: int, index: int) -> None:
        try:
            apply(op, args)
        except Exception as err:  # noqa: BLE001 - one command that no longer applies stops nothing
            log.error(
                "journal entry %d.%d (%s) could not be replayed: %s", generation, index, op, err
            )

    def due(self) -> bool:
        return time.monotonic() >= self.next_due_s

    def checkpoint(self, path: Path | None = None) -> Path:
        """Save now (to ``path``, else the configured checkpoint): journal rotated, checkpoint
        written atomically, covered journal files pruned.

        Raises:
            CheckpointError: the file could not be written (the journal still holds everything).
        """
        target = path or self.config.checkpoint
        if self.before_save is not None:
            self.before_save()
        position = self.journal.rotate() if self.journal.entries else self.journal.position
        loop = self.sim.loop
        settings = LoopSettings(loop.time_scale, loop.paused)
        save_checkpoint(self.sim.world, self.sim.schedule, target, settings, position)
        if target == self.config.checkpoint:
            self.journal.prune(position)
        self.last_saved_s = time.monotonic()
        return target

    def periodic(self) -> None:
        """Checkpoint if one is due; on failure log, back off and go on. Never raises."""
        if not self.due():
            return
        now = time.monotonic()
        try:
            self.checkpoint()
        except Exception as err:  # noqa: BLE001 - a failed save must not stop the simulation
            self.failures += 1
            longest_s = max(RETRY_MAX_S, self.config.checkpoint_every_s)
            wait_s = min(RETRY_FIRST_S * 2 ** (self.failures - 1), longest_s)
            self.next_due_s = now + wait_s
            log.error(
                "checkpoint failed (%s); the simulation goes on, retrying in %g s (the "
                "journal keeps every command meanwhile)",
                err,
                wait_s,
            )
            return
        self.failures = 0
        every_s = self.config.checkpoint_every_s
        self.next_due_s = now + every_s if every_s else float("inf")

    def at_shutdown(self) -> ShutdownSave:
        """The final checkpoint: to the configured path, else to the first fallback that works
        (logged, with the reason). Never raises; closes the journal."""
        errors: list[str] = []
        saved = None
        for path in [self.config.checkpoint, *fallback_paths(self.config)]:
            try:
                saved = self.checkpoint(path)
                break
            except (CheckpointError, JournalError, OSError) as err:
                errors.append(str(err))
                log.error("%s", err)
        self.journal.close()
        if saved is not None and errors:
            log.error("the world was saved to %s instead of %s", saved, self.config.checkpoint)
        elif saved is None:
            log.critical("the world could not be saved anywhere: %s", "; ".join(errors))
        return ShutdownSave(saved, tuple(errors))

    def close(self) -> None:
        self.journal.close()
