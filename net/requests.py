"""Requests on the ROUTER socket: one handler per operation of ``docs/protocol.md`` section 7.

Requests are answered by the simulation thread in the INPUT phase of a tick, before its first
system (``systems.commands.CommandSystem``; once a period while paused), so every reply is
consistent with the last published sequence number (the Clone pattern's snapshot rule); spawn and
despawn change the world before the tick's systems run, a time scale or a pause applies from the
next tick. Every request gets exactly one reply; bad input gets an error code and changes nothing;
the handler never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from synthtwin.components.activity import CATEGORIES
from synthtwin.components.behavior import SHIFTS
from synthtwin.components.identity import EMPLOYMENT
from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.components.town import PLACE_KINDS, Town
from synthtwin.engine.config import MAX_DT_S, MAX_TIME_SCALE, MAX_TWINS
from synthtwin.engine.loop import Loop
from synthtwin.engine.world import UnknownTwinError, World
from synthtwin.net.publisher import Publisher
from synthtwin.net.wire import fields, reply, request, topics
from synthtwin.net.wire.errors import WRONG_TYPE, WireError
from synthtwin.net.wire.reply import Reply, ReplyError

__all__ = ["Controls", "RequestHandler"]

MAX_BATCH = 10_000
"""Twins one spawn or despawn request may name (docs/protocol.md section 7)."""
"""The ``town`` reply's ``kinds``: the name of each place kind code."""


@dataclass
class Controls:
    """What the handler may read and change, handed over by the composition root.

    Attributes:
        world, loop: the running simulation.
        spawn: ``spawn(count, seed)`` adds synthetic twins, returns their ids.
        despawn: removes twins by id (raises ``UnknownTwinError`` and removes nothing).
        today: ``today(rows)`` the daily-record columns of those rows so far today.
    """

    world: World
    loop: Loop
    spawn: Callable[[int, int | None], np.ndarray]
    despawn: Callable[[np.ndarray], None]
    today: Callable[[np.ndarray], dict[str, np.ndarray]]


class _Failure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = ReplyError(code, message)


class RequestHandler:
    """Decodes a request payload, runs its operation and encodes the reply."""

    def __init__(self, controls: Controls, publisher: Publisher) -> None:
        self.controls = controls
        self.publisher = publisher
        self.ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "snapshot": self._snapshot, "roster": self._roster, "twin": self._twin,
            "spawn": self._spawn, "despawn": self._despawn, "time_scale": self._time_scale,
            "pause": self._pause, "resume": self._resume, "stats": self._stats,
            "town": self._town,
        }  # fmt: skip

    def handle(self, payload: bytes) -> bytes:
        """The reply payload for a request payload; never raises."""
        request_id: int | None = None
        try:
            req = request.decode(payload)
            request_id = req.id
            operation = self.ops.get(req.op)
            if operation is None:
                raise _Failure(reply.UNKNOWN_OP, f"unknown op '{req.op}'")
            result = operation(req.args)
            return self._reply(request_id, result=result)
        except WireError as err:
            return self._reply(request_id, error=ReplyError(reply.BAD_REQUEST, str(err.message)))
        except _Failure as failure:
            return self._reply(request_id, error=failure.error)
        except UnknownTwinError as err:
            message = f"twin {err.twin_id} does not exist"
            return self._reply(request_id, error=ReplyError(reply.UNKNOWN_TWIN, message))
        except Exception as err:  # noqa: BLE001 - the server must answer, whatever failed
            message = f"{type(err).__name__}: {err}"
            return self._reply(request_id, error=ReplyError(reply.INTERNAL, message))

    def _reply(
        self, request_id: int | None, result: dict | None = None, error: ReplyError | None = None
    ) -> bytes:
        world = self.controls.world
        message = Reply(
            world.tick, self.publisher.seq, world.clock.elapsed_s, request_id, error is None,
            result, error,
        )  # fmt: skip
        return reply.encode(message)

    # -- operations --------------------------------------------------------------------------

    def _snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        cells = None
        if "cells" in args:
            listed = fields.read_list(args, "cells", "args")
            cells = [_cell(value, f"args.cells[{i}]") for i, value in enumerate(listed)]
        return {"crowd": self.publisher.snapshot(cells)}

    def _roster(self, args: dict[str, Any]) -> dict[str, Any]:
        world = self.controls.world
        order = np.argsort(world.ids)
        message = self.publisher.meta_message(np.zeros(0, np.uint32), np.zeros(0, np.uint32))
        return {
            "protocol": message.protocol, "epoch": message.epoch,
            "activities": list(message.activities), "clips": list(message.clips),
            "ids": world.ids[order].astype(np.uint32),
            "cells": self.publisher.cells_of(world.ids[order], world["position_m"][order]),
        }  # fmt: skip

    def _town(self, args: dict[str, Any]) -> dict[str, Any]:
        """The town's places: fixed while the server runs (spawning moves new households into
        existing homes; a resumed world restores its town before serving), so one fetch holds."""
        town = self.controls.world.resource(Town)
        return {
            "kinds": list(PLACE_KINDS),
            "kind": town.kind.astype(np.uint8),
            "xy_m": town.xy_m.astype(np.float32),
            "radius_m": float(town.radius_m),
        }

    def _twin(self, args: dict[str, Any]) -> dict[str, Any]:
        world = self.controls.world
        twin_id = fields.read_int(args, "id", "args")
        row = world.row_of(twin_id)
        position = world["position_m"][row]
        vitals = {name: float(world[name][row]) for name in VITAL_COLUMNS}
        vitals["activity"] = int(world["activity"][row])
        return {
            "id": twin_id,
            "cell": [int(c) for c in topics.cell_of(position[None])[0]],
            "pos_m": [float(position[0]), float(position[1])],
            "heading_rad": float(world["heading_rad"][row]),
            "speed_mps": float(world["speed_mps"][row]),
            "activity": int(world["activity"][row]),
            "vitals": vitals,
            "profile": _profile(world, row),
            "today": self._today(row),
        }

    def _today(self, row: int) -> dict[str, Any]:
        day = self.controls.today(np.array([row]))
        resting = float(day["resting_hr"][0])
        return {
            "steps": int(day["steps"][0]),
            **{name: float(day[name][0]) for name in (
                "energy_kcal", "mean_hr", "max_hr", "sbp_mean", "dbp_mean", "glucose_mean",
                "glucose_max", "sleep_hours")},
            "resting_hr": None if np.isnan(resting) else resting,
            "minutes": {c: float(day[f"min_{c}"][0]) for c in CATEGORIES},
        }  # fmt: skip

    def _spawn(self, args: dict[str, Any]) -> dict[str, Any]:
        count = fields.read_int(args, "count", "args")
        world = self.controls.world
        limit = min(MAX_BATCH, MAX_TWINS - world.n)
        if not 1 <= count <= limit:
            raise _Failure(reply.OUT_OF_RANGE, _range_message("count", count, f"1..{limit}"))
        seed = fields.read_int(args, "seed", "args", minimum=0) if "seed" in args else None
        ids = self.controls.spawn(count, seed)
        return {"ids": np.sort(ids).astype(np.uint32)}

    def _despawn(self, args: dict[str, Any]) -> dict[str, Any]:
        ids = _id_list(args)
        if not 1 <= ids.size <= MAX_BATCH:
            message = _range_message("ids", f"{ids.size} ids", f"1..{MAX_BATCH} ids")
            raise _Failure(reply.OUT_OF_RANGE, message)
        ids = np.unique(ids)
        alive = np.isin(ids, self.controls.world.ids)
        if not alive.all():
            first = int(ids[~alive][0])
            raise _Failure(reply.UNKNOWN_TWIN, f"twin {first} does not exist")
        self.controls.despawn(ids)
        return {"removed": ids.astype(np.uint32)}

    def _time_scale(self, args: dict[str, Any]) -> dict[str, Any]:
        scale = fields.read_float(args, "scale", "args")
        loop = self.controls.loop
        limit = min(MAX_TIME_SCALE, MAX_DT_S * loop.tick_hz)
        if not 0 < scale <= limit:
            raise _Failure(reply.OUT_OF_RANGE, _range_message("scale", scale, f"(0, {limit:g}]"))
        previous, loop.time_scale = loop.time_scale, scale
        return {"scale": scale, "previous": previous}

    def _pause(self, args: dict[str, Any]) -> dict[str, Any]:
        self.controls.loop.paused = True
        return {"paused": True}

    def _resume(self, args: dict[str, Any]) -> dict[str, Any]:
        self.controls.loop.paused = False
        return {"paused": False}

    def _stats(self, args: dict[str, Any]) -> dict[str, Any]:
        loop, world = self.controls.loop, self.controls.world
        stats = loop.stats()
        now = world.clock.start + timedelta(seconds=world.clock.elapsed_s)
        return {
            "twins": world.n, "tick": stats.ticks, "tick_hz": stats.tick_hz,
            "measured_hz": stats.measured_hz, "time_scale": loop.time_scale,
            "paused": loop.paused, "sim_time": now.isoformat(timespec="seconds"),
            "overruns": stats.overruns, "dropped_ticks": stats.dropped_ticks,
            "systems": {
                name: {"p50_ms": t.p50_ms, "p99_ms": t.p99_ms, "mean_ms": t.mean_ms}
                for name, t in stats.timings.items()
            },
        }  # fmt: skip


def _cell(value: Any, path: str) -> tuple[int, int]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise WireError(WRONG_TYPE, f"field '{path}' must be [ix, iy] ints, got {value!r}")
    return int(value[0]), int(value[1])


def _id_list(args: dict[str, Any]) -> np.ndarray:
    value = fields.require(args, "ids", "args")
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "ui":
        return value.astype(np.int64)
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise WireError(WRONG_TYPE, f"field 'args.ids' must be an array of ints, got {value!r}")
    return np.array(value, dtype=np.int64)


def _range_message(name: str, value: Any, expected: str) -> str:
    return f"field 'args.{name}' holds {value}, expected {expected}"


def _profile(world: World, row: int) -> dict[str, Any]:
    conditions = [name for name in ("hypertension", "diabetes") if bool(world[name][row])]
    return {
        "age_y": float(world["age_y"][row]),
        "sex": ("female", "male")[int(world["sex"][row])],
        "height_cm": float(world["height_cm"][row]),
        "weight_kg": float(world["weight_kg"][row]),
        "bmi": float(world["bmi"][row]),
        "employment": EMPLOYMENT[int(world["employment"][row])],
        "shift": SHIFTS[int(world["shift"][row])],
        "conditions": conditions,
    }
