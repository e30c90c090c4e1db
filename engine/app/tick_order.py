"""The tick-order table of ``docs/architecture.md``, generated from the schedule serving builds.

    python -m synthtwin.engine.app.tick_order [docs/architecture.md]

rewrites the table between the ``tick-order`` markers; ``tests/test_schedule.py`` fails while
the file holds another.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.engine.record_queue import RecordBatch
from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World

__all__ = ["ARCHITECTURE", "splice", "tick_order_table"]

ARCHITECTURE = Path("docs/architecture.md")
BEGIN = "<!-- tick-order:begin -->"
END = "<!-- tick-order:end -->"


class _Offline:
    """Stands in for the network: no commands come, nothing is sent."""

    def poll(self) -> None:
        """No command is waiting."""

    def replicate(self, world: World, tick: Tick) -> None:
        """Nobody listens."""

    def record(self, batch: RecordBatch) -> None:
        """No health record is written."""


def tick_order_table() -> str:
    """The Markdown table of the schedule ``twin serve`` builds with the default config (the
    health record's recording system included)."""
    config = load_config(None, twins=1, start=datetime(2026, 3, 2))
    offline = _Offline()
    sim = build_simulation(config, replicator=offline, commands=offline, record=offline.record)
    try:
        return sim.schedule.table()
    finally:
        sim.close()


def splice(document: str, table: str) -> str:
    """``document`` with ``table`` between its tick-order markers."""
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else ARCHITECTURE
    path.write_text(splice(path.read_text(), tick_order_table()))
    print(f"{path}: tick order rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
