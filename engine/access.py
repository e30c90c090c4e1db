"""Access checks: a view of the World limited to the columns one system declares.

The tests run every system through one (``Schedule(check_access=True)``), so a declaration that
lies fails the suite: ``view[name]`` gives the column writable when the system writes it,
read-only when it reads it (this tick's or the last tick's value), and raises ``AccessError``
for any other column; ``view[name] = value`` needs a write. Everything else (rows, ids, clock,
resources, sparse components, structural changes) passes through to the World. Production runs
hand systems the World itself, so nothing wraps a column on the tick's hot path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthtwin.engine.world import World

__all__ = ["AccessCheckedWorld", "AccessError"]


class AccessError(LookupError):
    """A system touched a column it did not declare; the message names both."""


class AccessCheckedWorld:
    """``world`` as the system ``system`` may see it.

    Args:
        world: the world.
        system: the system's name, for messages.
        readable: columns it declares in ``reads`` or ``reads_previous``.
        writable: columns it declares in ``writes``.
    """

    def __init__(
        self, world: World, system: str, readable: frozenset[str], writable: frozenset[str]
    ) -> None:
        self._world = world
        self._system = system
        self._readable = readable
        self._writable = writable

    def __getitem__(self, name: str) -> np.ndarray:
        """Live rows of a column ``(N, *shape)``: writable if declared a write, else read-only."""
        column = self._world[name]
        if name in self._writable:
            return column
        if name not in self._readable:
            raise AccessError(
                f"{self._system} reads column {name!r} without declaring it: add it to its "
                "reads, reads_previous or writes"
            )
        view = column.view()
        view.flags.writeable = False
        return view

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        if name not in self._writable:
            raise AccessError(
                f"{self._system} writes column {name!r} without declaring it in its writes"
            )
        self._world[name] = value

    @property
    def columns(self) -> _Layout:
        """The column store's layout version only: every column goes through ``[]``."""
        return _Layout(self._world)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)


class _Layout:
    """What a checked view exposes of the column store: ``version`` (bumped by every spawn and
    despawn, for caches keyed on the row layout)."""

    def __init__(self, world: World) -> None:
        self._world = world

    @property
    def version(self) -> int:
        return self._world.columns.version
