"""Scenario files: what-if scenarios for a headless run (``twin simulate --scenario FILE``).

A TOML file of ``[[scenario]]`` tables, one per scenario::

    [[scenario]]
    twin = 3              # the twin's id
    kind = "illness"      # illness, medication, exercise, short_night
    day = 2               # when it starts: days after the run's first midnight (0 default)
    days = 3              # how long it lasts, days
    severity = "severe"   # the kind's arguments (components.scenario.scenario_args)

Every entry is checked (the same checks as the ROUTER's ``scenario`` op) before any is added, so
a bad file changes nothing and says which entry and field is wrong.
"""

from __future__ import annotations

import math
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from synthtwin.components.scenario import MAX_DAYS, ScenarioError, Scenarios, scenario_args
from synthtwin.engine.config import ConfigError
from synthtwin.engine.world import UnknownTwinError, World

__all__ = ["add_scenarios", "read_scenarios"]

S_PER_DAY = 86_400.0
KEYS = {"twin", "kind", "day", "days"}


def read_scenarios(path: Path) -> list[dict[str, Any]]:
    """The ``[[scenario]]`` tables of ``path``.

    Raises:
        ConfigError: the file cannot be read, is not TOML or holds no ``[[scenario]]`` list.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"scenario file {path}: cannot read it ({err.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"scenario file {path}: not TOML ({err})") from None
    entries = data.get("scenario")
    if not isinstance(entries, list) or not entries or set(data) != {"scenario"}:
        raise ConfigError(f"scenario file {path}: expected [[scenario]] tables only, e.g. "
                          "twin = 3, kind = \"illness\", days = 3")  # fmt: skip
    return entries


def add_scenarios(world: World, path: Path) -> int:
    """Add the scenarios of ``path`` to ``world`` (all or none); how many.

    Raises:
        ConfigError: naming the file, the entry (from 1) and what is wrong with it.
    """
    checked = [_checked(world, entry, path, k + 1) for k, entry in enumerate(read_scenarios(path))]
    scenarios = world.resource(Scenarios)
    for twin, kind, start_s, end_s, args in checked:
        scenarios.add(twin, kind, start_s, end_s, args)
    return len(checked)


def _checked(world: World, entry: Any, path: Path, number: int) -> tuple:
    """(twin, kind, start_s, end_s, args) of one entry."""
    where = f"scenario file {path}, scenario {number}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    try:
        twin, kind = entry["twin"], entry["kind"]
        day, days = entry.get("day", 0), entry["days"]
    except KeyError as err:
        raise ConfigError(f"{where}: missing {err.args[0]!r}") from None
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (day, days))
    if not isinstance(twin, int) or isinstance(twin, bool) or not numbers:
        raise ConfigError(f"{where}: twin must be an integer, day and days numbers")
    if not (math.isfinite(day) and day >= 0 and math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise ConfigError(f"{where}: day must be >= 0 and days in (0, {MAX_DAYS:g}]")
    try:
        world.row_of(twin)
        args = scenario_args(kind, {k: v for k, v in entry.items() if k not in KEYS}, "scenario")
    except UnknownTwinError:
        raise ConfigError(f"{where}: twin {twin} does not exist") from None
    except ScenarioError as err:
        raise ConfigError(f"{where}: {err}") from None
    clock = world.clock
    start_s = max(day * S_PER_DAY - clock.start_of_day_s, clock.elapsed_s)
    end_s = start_s + days * S_PER_DAY
    try:
        clock.start + timedelta(seconds=end_s)  # the record and replies name its end
    except OverflowError:
        raise ConfigError(f"{where}: it would end after {datetime.max:%Y-%m-%d}") from None
    return twin, kind, start_s, end_s, args
