"""Commands: the INPUT phase applies what arrived since the last tick, inside the tick's timer.

The source (a ``CommandSource``, e.g. the ZeroMQ server of ``net``) is injected by the
composition root, so systems never import the network layer. Commands read the world as the last
tick left it (the Clone pattern's snapshot rule: a reply matches the last published sequence
number) and change it only structurally (spawn, despawn: whole rows) or through the loop's
settings (time scale, pause: from the next tick on); no column is written in place, so this system
declares none. While the loop is paused, the schedule still runs this phase (``Schedule.idle``).
"""

from __future__ import annotations

from typing import Protocol

from synthtwin.engine.schedule import Phase, System, Tick

__all__ = ["CommandSource", "CommandSystem"]


class CommandSource(Protocol):
    """Where commands come from."""

    def poll(self) -> None:
        """Apply (and answer) every command waiting now; never blocks."""


class CommandSystem(System):
    """Drains the command source at the start of every tick (or every ``every`` ticks)."""

    phase = Phase.INPUT

    def __init__(self, source: CommandSource, every: int = 1) -> None:
        super().__init__(every)
        self.source = source

    def run(self, tick: Tick) -> None:
        self.source.poll()
