"""Configuration: every tunable of the engine in one typed place, with defaults that work.

``Config`` is built from defaults, then a TOML file (``--config FILE.toml``), then command-line
overrides, and validated once. Nothing else in the project reads settings from globals or the
environment: the composition root passes the ``Config`` down.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = ["Config", "ConfigError", "SimConfig", "load_config"]


class ConfigError(ValueError):
    """A setting is missing, of the wrong type or out of range; the message says which and why."""


@dataclass(frozen=True)
class SimConfig:
    """The simulation: who lives in the world and how time runs.

    Attributes:
        twins: number of twins spawned from the synthetic population (ignored with population_file).
        seed: seed of every random draw; the same seed and config give bit-identical worlds.
        tick_hz: fixed ticks per wall-clock second in realtime mode (also the headless tick grid).
        time_scale: simulated seconds per wall-clock second; 1 is a true realtime twin.
        start: local start time; None starts at the local wall-clock time (realtime twin).
        max_catchup_ticks: most ticks run back to back to catch up after a stall; older backlog is
            dropped and counted as overrun.
        device: "auto", "cpu" or "cuda".
        population_file: CSV or Parquet population to import instead of synthesizing one.
        town_seed: seed of the town layout; None uses ``seed``.
    """

    twins: int = 1000
    seed: int = 0
    tick_hz: float = 30.0
    time_scale: float = 1.0
    start: datetime | None = None
    max_catchup_ticks: int = 5
    device: str = "auto"
    population_file: Path | None = None
    town_seed: int | None = None

    @property
    def dt_s(self) -> float:
        """Simulated seconds per tick."""
        return self.time_scale / self.tick_hz

    def validate(self) -> SimConfig:
        _check(1 <= self.twins <= 1_000_000, "twins", self.twins, "an integer in 1..1000000")
        _check(0 <= self.seed < 2**63, "seed", self.seed, "an integer in 0..2**63-1")
        _check(0.1 <= self.tick_hz <= 1000, "tick_hz", self.tick_hz, "a rate in 0.1..1000 Hz")
        _check(
            0 < self.time_scale <= 100_000, "time_scale", self.time_scale, "a factor in (0, 100000]"
        )
        _check(
            self.dt_s <= 600, "time_scale / tick_hz", self.dt_s, "at most 600 simulated s a tick"
        )
        _check(
            1 <= self.max_catchup_ticks <= 1000,
            "max_catchup_ticks",
            self.max_catchup_ticks,
            "1..1000",
        )
        _check(
            self.device in ("auto", "cpu", "cuda"), "device", self.device, '"auto", "cpu" or "cuda"'
        )
        if self.population_file is not None and not Path(self.population_file).is_file():
            raise ConfigError(f"population_file {self.population_file}: no such file")
        return self


@dataclass(frozen=True)
class Config:
    """Everything the composition root needs. Sections grow with the engine."""

    sim: SimConfig = field(default_factory=SimConfig)

    def validate(self) -> Config:
        self.sim.validate()
        return self


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {value!r} is out of range: expected {allowed}")


_COERCE: dict[str, Any] = {
    "twins": int,
    "seed": int,
    "tick_hz": float,
    "time_scale": float,
    "max_catchup_ticks": int,
    "device": str,
    "town_seed": int,
    "population_file": Path,
}


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "start":
        return _parse_start(value)
    try:
        return _COERCE[name](value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"sim.{name} = {value!r}: {err}") from None


def _parse_start(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"start = {value!r}: expected a date YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None


def load_config(path: Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file's ``[sim]`` table, then ``overrides`` (None = not given).

    Raises:
        ConfigError: unreadable file, unknown key, wrong type or out-of-range value.
    """
    sim = SimConfig()
    known = {f.name for f in fields(SimConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_toml(Path(path), known))
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown sim setting(s) {sorted(unknown)}; known: {sorted(known)}")
    sim = replace(sim, **{k: _coerce(k, v) for k, v in values.items()})
    return Config(sim=sim).validate()


def _read_toml(path: Path, known: set[str]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: not valid TOML ({err})") from None
    extra = set(data) - {"sim"}
    if extra:
        raise ConfigError(f"config file {path}: unknown table(s) {sorted(extra)}; expected [sim]")
    return dict(data.get("sim", {}))
