"""The threads of this process, as Linux lists them: to pin them to cores and to lower their
priority, which Linux applies per thread (``sched_setaffinity`` and ``setpriority`` of a thread id).

Threads started later inherit the settings of the thread that starts them, so a process that
calls these early, from its main thread, has every later thread follow.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TASKS", "lower_priority", "pin_threads", "thread_ids"]

TASKS = Path("/proc/self/task")
"""One entry per thread of this process (Linux)."""


def thread_ids(skip_prefix: str | None = None) -> Iterator[int]:
    """The ids of this process's threads, but those whose name starts with ``skip_prefix``;
    nothing where ``/proc/self/task`` does not exist."""
    if not TASKS.is_dir():
        return
    for task in TASKS.iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # it just ended
            if skip_prefix is None or not (task / "comm").read_text().startswith(skip_prefix):
                yield int(task.name)


def pin_threads(cores: set[int], skip_prefix: str | None = None) -> None:
    """Let every thread of this process (but ``skip_prefix``'s) run on ``cores`` only."""
    for tid in thread_ids(skip_prefix):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, cores)


def lower_priority(niceness: int) -> None:
    """Raise every thread's nice value by ``niceness`` (0..19; lower CPU priority)."""
    target = min(os.getpriority(os.PRIO_PROCESS, 0) + niceness, 19)
    for tid in thread_ids():
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, tid, target)
