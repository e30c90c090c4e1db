"""Requests on the ROUTER socket: one handler per operation of ``docs/protocol.md`` section 7.

Requests are answered by the simulation thread in the INPUT phase of a tick, before its first
system (``systems.commands.CommandSystem``; once a period while paused), so every reply is
consistent with the last published sequence number (the Clone pattern's snapshot rule); spawn and
despawn change the world before the tick's systems run, a time scale or a pause applies from the
next tick. Every request gets exactly one reply; bad input gets an error code and changes nothing;
the handler never raises, and an error message quotes at most a short prefix of the input.

Before an operation runs (``docs/protocol.md`` sections 6.7 and 7.1):

1. the request is decoded within ``[security]`` limits (``max_list_items`` items per array or map,
   ``max_nesting`` levels inside ``args``; ZeroMQ already refused payloads over
   ``max_request_bytes``);
2. the peer's token bucket (``router_rate_per_s``, ``router_burst``) must hold a token, else
   ``rate_limited`` with ``retry_after_ms``;
3. the token must grant the op's role (``OP_ROLES``; ``unauthorized`` or ``forbidden``). With
   open access (no token file) every caller is admin, as before.

Then arguments are checked: ids are uint32 and cells int32 (``out_of_range`` beyond), lists hold
at most ``max_list_items`` items and duplicates are dropped, spawns are limited by
``spawn_per_min`` and time scales by ``min_time_scale``..``max_time_scale``.

Write-ahead journal: a checked world-changing command (``COMMANDS``) is recorded in the
``journal`` (on disk when ``record`` returns) before it runs and so before its reply; a resumed
server replays the journal after its checkpoint through ``apply``. A seedless spawn is journaled
with the seed the server draws for it, so that its replay makes the same twins.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import numpy as np

from synthtwin.components.activity import CATEGORIES
from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.components.scenario import ScenarioError
from synthtwin.components.town import PLACE_KINDS, Town
from synthtwin.engine.config import MAX_DT_S, MAX_TWINS, SecurityConfig
from synthtwin.engine.journal import JournalError
from synthtwin.engine.loop import Loop, LoopStats
from synthtwin.engine.world import UnknownTwinError, World
from synthtwin.net import scenario_requests
from synthtwin.net.auth import AuthError, Role, TokenStore
from synthtwin.net.chat_requests import ChatDone, ChatRefused, ChatRequests, Deferred
from synthtwin.net.history_requests import HistoryDone, HistoryRefused, HistoryRequests
from synthtwin.net.limits import PeerBuckets, TokenBucket
from synthtwin.net.publisher import Publisher
from synthtwin.net.reply_cache import ReplyCache
from synthtwin.net.twin_profile import twin_profile
from synthtwin.net.wire import fields, reply, request, topics
from synthtwin.net.wire.errors import ECHO_CHARS, WRONG_TYPE, WireError, clip, type_name
from synthtwin.net.wire.reply import Reply, ReplyError
from synthtwin.net.wire.request import RequestLimits

__all__ = [
    "COMMANDS",
    "MAX_BATCH",
    "MAX_ID",
    "OP_ROLES",
    "CommandJournal",
    "Controls",
    "Failure",
    "RequestHandler",
    "rate_limited",
    "read_cells",
]

log = logging.getLogger(__name__)

MAX_BATCH = 10_000
"""Twins one spawn or despawn request may name (docs/protocol.md section 7)."""
MAX_ID = 2**32 - 1
"""Largest twin id (ids are uint32)."""
MAX_SEED = 2**63 - 1
"""Largest spawn seed."""
CELL_RANGE = (-(2**31), 2**31 - 1)
"""Cell indices are int32."""
MAX_MESSAGE_CHARS = 4 * ECHO_CHARS
"""Longest error message a reply carries."""
STATS_EVERY_S = 0.1
"""The loop's timings and counts in ``stats`` are at most this old, wall seconds."""
STATS_WANTED_S = 1.0
"""Wall seconds after a ``stats`` request during which ``prepare`` encodes the reply between
ticks."""
OP_ROLES: dict[str, Role] = {
    "snapshot": Role.VIEWER, "roster": Role.VIEWER, "town": Role.VIEWER, "stats": Role.VIEWER,
    "twin": Role.ANALYST, "chat": Role.ANALYST, "history": Role.ANALYST,
    "spawn": Role.OPERATOR, "despawn": Role.OPERATOR, "time_scale": Role.OPERATOR,
    "pause": Role.OPERATOR, "resume": Role.OPERATOR, "scenario": Role.OPERATOR,
}  # fmt: skip
"""The lowest role that may run each op: viewers read the crowd, analysts a twin's health
(``twin``: profile, vitals, today; ``chat``: the twin answers from them; ``history``: the health
record), operators change the world; admin ops will be configuration. An unknown op needs a
viewer (so that a caller without a token learns nothing of the ops)."""
COMMANDS = ("spawn", "despawn", "time_scale", "pause", "resume", "scenario")
"""The ops that change the world or the loop: journaled, and replayed by ``apply``."""


class CommandJournal(Protocol):
    """Where checked commands are written ahead (``engine.journal.Journal``)."""

    def record(self, op: str, args: dict[str, Any]) -> None:
        """Append ``op`` and its ``args``; return once they are on the disk."""


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


class Failure(Exception):
    """A request refused with ``error`` (its code and message), as the reply states it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = ReplyError(code, message)


class RequestHandler:
    """Decodes a request payload, checks its peer's rate and its token's role, runs its operation
    and encodes the reply.

    Args:
        controls: what the operations read and change.
        publisher: the state streams (snapshots, the published sequence number).
        security: the limits (``[security]``); None: the defaults.
        tokens: the token store; None: open access (every caller is admin).
        journal: where ``COMMANDS`` are written ahead; None: nowhere.
        chat: the ``chat`` op's worker queue (``net.chat_requests``, deferred replies: ``handle``
            returns its ``Deferred`` ticket, ``deferred_replies`` the answers); None: no chats.
        history: the ``history`` op's queries of the health record (``net.history_requests``,
            deferred the same way); None: no record.

    Attributes:
        rate_limited: requests refused with ``rate_limited``, or dropped unanswered from a muted
            peer, so far.
    """

    def __init__(
        self,
        controls: Controls,
        publisher: Publisher,
        security: SecurityConfig | None = None,
        tokens: TokenStore | None = None,
        journal: CommandJournal | None = None,
        chat: ChatRequests | None = None,
        history: HistoryRequests | None = None,
    ) -> None:
        self.controls = controls
        self.chat = chat
        self.history = history
        self._deferred: dict[int, int | None] = {}
        self.journal = journal
        self.publisher = publisher
        self.security = security = security or SecurityConfig()
        self.tokens = tokens
        self.limits = RequestLimits(security.max_list_items, security.max_nesting)
        self.peers = PeerBuckets(security.router_rate_per_s, security.router_burst)
        spawn_rate = security.spawn_per_min / 60.0
        self.spawn_bucket = TokenBucket(spawn_rate, security.spawn_per_min)
        self.rate_limited = 0
        self._stats_at: tuple[float, LoopStats | None] = _no_stats()
        self._stats_cache = ReplyCache()
        self._stats_asked_s = -math.inf
        self._commands_run = 0
        self.ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "snapshot": self._snapshot, "roster": self._roster, "twin": self._twin,
            "spawn": self._spawn, "despawn": self._despawn, "time_scale": self._time_scale,
            "pause": self._pause, "resume": self._resume, "town": self._town,
            "chat": self._chat, "history": self._history, "scenario": self._scenario,
        }  # fmt: skip

    def handle(self, payload: bytes, peer: bytes | None = None) -> bytes | Deferred | None:
        """The reply payload for a request payload from ``peer`` (a ROUTER identity; None: no
        rate limit); never raises. None (no reply) while ``peer`` is muted: it was refused with
        ``rate_limited`` and sends again before its ``retry_after_ms``. A ``Deferred`` ticket for
        a request answered later (``chat``): its reply comes from ``deferred_replies``."""
        if peer is not None and self.peers.muted(peer, time.monotonic()):
            self.rate_limited += 1
            return None
        request_id: int | None = None
        try:
            req = request.decode(payload, self.limits)
            request_id = req.id
            if peer is not None:
                self._check_rate(peer)
            self._authorize(req)
            if req.op == "stats":  # the same for every request of a tick: encoded once
                self._stats_asked_s = time.monotonic()
                return self._stats_reply(request_id)
            operation = self.ops.get(req.op)
            if operation is None:
                raise Failure(reply.UNKNOWN_OP, f"unknown op '{clip(req.op)}'")
            result = operation(req.args)
            if isinstance(result, Deferred):
                self._deferred[result.ticket] = request_id
                return result
            return self._reply(request_id, result=result)
        except WireError as err:
            return self._reply(request_id, error=ReplyError(reply.BAD_REQUEST, str(err.message)))
        except AuthError as err:
            return self._reply(request_id, error=ReplyError(err.code, str(err)))
        except JournalError as err:  # written ahead: the command did not run
            log.error("%s", err)
            return self._reply(request_id, error=ReplyError(reply.INTERNAL, str(err)))
        except Failure as failure:
            return self._reply(request_id, error=failure.error)
        except (ChatRefused, HistoryRefused) as refused:
            return self._reply(request_id, error=refused.error)
        except ScenarioError as err:
            return self._reply(request_id, error=ReplyError(err.code, str(err)))
        except UnknownTwinError as err:
            message = f"twin {err.twin_id} does not exist"
            return self._reply(request_id, error=ReplyError(reply.UNKNOWN_TWIN, message))
        except Exception as err:  # noqa: BLE001 - the server must answer, whatever failed
            log.exception("request %s failed", request_id)
            message = f"{type(err).__name__}: {clip(err)}"
            return self._reply(request_id, error=ReplyError(reply.INTERNAL, message))

    def deferred_replies(self) -> list[tuple[int, bytes]]:
        """``(ticket, reply payload)`` of each deferred request finished since the last call;
        never raises (the simulation thread's poll calls it: an exception would end serving).
        A result that cannot be encoded is answered ``internal``."""
        done: list[ChatDone | HistoryDone] = []
        for source in (self.chat, self.history):
            if source is None:
                continue
            try:
                done += source.finished()
            except Exception:  # noqa: BLE001 - its requests stay unanswered; serving goes on
                log.exception("collecting the finished %s requests failed", type(source).__name__)
        replies = []
        for d in done:
            request_id = self._deferred.pop(d.ticket)
            try:
                payload = self._reply(request_id, d.result, d.error)
            except Exception as err:  # noqa: BLE001 - the request must be answered
                log.exception("the reply to request %s could not be encoded", request_id)
                error = ReplyError(reply.INTERNAL, f"{type(err).__name__}: {clip(err)}")
                payload = self._reply(request_id, error=error)
            replies.append((d.ticket, payload))
        return replies

    def _check_rate(self, peer: bytes) -> None:
        """``rate_limited`` unless ``peer``'s bucket holds a token."""
        wait_s = self.peers.take(peer, time.monotonic())
        if wait_s > 0:
            self.rate_limited += 1
            rate = self.security.router_rate_per_s
            raise rate_limited(f"more than {rate:g} requests a second", wait_s)

    def _authorize(self, req: request.Request) -> None:
        """Raises ``AuthError`` unless the request's token grants its op's role."""
        if self.tokens is not None:
            self.tokens.check(req.token, OP_ROLES.get(req.op, Role.VIEWER))

    def _reply(
        self, request_id: int | None, result: dict | None = None, error: ReplyError | None = None
    ) -> bytes:
        if error is not None and len(error.message) > MAX_MESSAGE_CHARS:
            message = error.message[: MAX_MESSAGE_CHARS - 3] + "..."
            error = ReplyError(error.code, message, error.retry_after_ms)
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
            cells = read_cells(fields.read_list(args, "cells", "args"))
        return {"crowd": self.publisher.snapshot(cells)}

    def _roster(self, args: dict[str, Any]) -> dict[str, Any]:
        """The twins and cells as published up to the reply's seq (not the world now: a twin
        spawned this tick is announced by the tick's ``meta``)."""
        ids, cells = self.publisher.roster()
        message = self.publisher.meta_message(np.zeros(0, np.uint32), np.zeros(0, np.uint32))
        return {
            "protocol": message.protocol, "epoch": message.epoch,
            "activities": list(message.activities), "clips": list(message.clips),
            "ids": ids, "cells": cells,
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
        twin_id = _in_range(fields.read_int(args, "id", "args"), "args.id", 0, MAX_ID)
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
            "betas": [float(b) for b in world["betas"][row]],  # SMPL shape (protocol 14)
            "vitals": vitals,
            "profile": twin_profile(world, row),
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

    def _chat(self, args: dict[str, Any]) -> Deferred:
        """Queue a chat with a twin (``net.chat_requests``); its reply comes later."""
        if self.chat is None:
            raise Failure(reply.UNKNOWN_OP, "unknown op 'chat': this server does not chat")
        return self.chat.submit(args)

    def _history(self, args: dict[str, Any]) -> Deferred:
        """Queue a query of the health record (``net.history_requests``); its reply comes later."""
        if self.history is None:
            raise Failure(reply.UNKNOWN_OP, "unknown op 'history': this server keeps no record")
        return self.history.submit(args)

    def _spawn(self, args: dict[str, Any]) -> dict[str, Any]:
        count = fields.read_int(args, "count", "args")
        world = self.controls.world
        limit = min(MAX_BATCH, MAX_TWINS - world.n, self.security.spawn_per_min)
        if not 1 <= count <= limit:
            raise Failure(reply.OUT_OF_RANGE, _range_message("count", count, f"1..{limit}"))
        seed = None
        if "seed" in args:
            seed = _in_range(fields.read_int(args, "seed", "args", minimum=0), "args.seed",
                             0, MAX_SEED)  # fmt: skip
        wait_s = self.spawn_bucket.take(time.monotonic(), count)
        if wait_s > 0:
            per_min = self.security.spawn_per_min
            raise rate_limited(f"more than {per_min} twins spawned a minute", wait_s)
        if seed is None and self.journal is not None:  # journaled as drawn: replays the same
            seed = int(self.controls.world.rng.integers(0, MAX_SEED))
        return self._commit("spawn", {"count": count, "seed": seed})

    def _despawn(self, args: dict[str, Any]) -> dict[str, Any]:
        ids = np.unique(_id_list(args))  # ascending, each id once
        alive = np.isin(ids, self.controls.world.ids)
        if not alive.all():
            first = int(ids[~alive][0])
            raise Failure(reply.UNKNOWN_TWIN, f"twin {first} does not exist")
        return self._commit("despawn", {"ids": ids.tolist()})

    def _time_scale(self, args: dict[str, Any]) -> dict[str, Any]:
        scale = fields.read_float(args, "scale", "args")
        loop = self.controls.loop
        low = self.security.min_time_scale
        high = min(self.security.max_time_scale, MAX_DT_S * loop.tick_hz)
        if not low <= scale <= high:
            raise Failure(reply.OUT_OF_RANGE, _range_message("scale", scale, f"{low:g}..{high:g}"))
        return self._commit("time_scale", {"scale": scale})

    def _pause(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._commit("pause", {})

    def _resume(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._commit("resume", {})

    def _scenario(self, args: dict[str, Any]) -> dict[str, Any]:
        """Start, list or stop scenarios (``net.scenario_requests``); start and stop are
        journaled commands, list a read."""
        command = scenario_requests.check(scenario_requests.Context.of(self.controls.world), args)
        if command["action"] == "list":
            return scenario_requests.apply(self.controls.world, command)
        return self._commit("scenario", command)

    def _commit(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Write the checked command ahead in the journal, then carry it out."""
        if self.journal is not None:
            self.journal.record(op, args)
        return self.apply(op, args)

    def apply(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Carry out a checked command of ``COMMANDS`` with its journaled ``args`` (``spawn``:
        ``count``, ``seed``; ``despawn``: ``ids``; ``time_scale``: ``scale``; ``scenario``: the
        command of ``scenario_requests.check``); returns its result. A resumed server replays
        its journal through it: no role, rate or range check.

        Raises:
            UnknownTwinError: a despawned id is gone; KeyError: ``op`` is not a command.
        """
        self._commands_run += 1
        loop = self.controls.loop
        if op == "spawn":
            ids = self.controls.spawn(int(args["count"]), args.get("seed"))
            return {"ids": np.sort(ids).astype(np.uint32)}
        if op == "despawn":
            ids = np.asarray(args["ids"], dtype=np.int64)
            self.controls.despawn(ids)
            return {"removed": ids.astype(np.uint32)}
        if op == "time_scale":
            previous, loop.time_scale = loop.time_scale, float(args["scale"])
            return {"scale": loop.time_scale, "previous": previous}
        if op in ("pause", "resume"):
            loop.paused = op == "pause"
            return {"paused": loop.paused}
        if op == "scenario":
            return scenario_requests.apply(self.controls.world, args)
        raise KeyError(f"{op!r} is not one of {COMMANDS}")

    def prepare(self) -> None:
        """Between ticks, just before the next: encode the ``stats`` reply of the state that
        tick's requests will read, if ``stats`` was asked for in the last ``STATS_WANTED_S``, so
        that a stream of ``stats`` requests finds it encoded and the summary of the loop's
        timings (0.1-0.3 ms every ``STATS_EVERY_S``) and the encoding (~0.1 ms a tick) stay out
        of the tick (as checkpoints do). A command in the tick makes its requests encode anew.
        Never raises (it runs between ticks: an exception would end serving); a failure is
        logged and the tick's requests encode their own."""
        if time.monotonic() - self._stats_asked_s >= STATS_WANTED_S:
            return
        try:
            self._stats_reply(None)
        except Exception:  # noqa: BLE001 - answered in the tick instead, as before
            log.exception("the stats reply could not be made between ticks")

    def _loop_stats(self) -> LoopStats:
        """``Loop.stats()`` (percentiles of every system's timings: about 0.5 ms), computed at
        most once every ``STATS_EVERY_S``, so that ``stats`` requests cannot fill the budget."""
        now = time.monotonic()
        at, stats = self._stats_at
        if now - at >= STATS_EVERY_S:
            stats = self.controls.loop.stats()
            self._stats_at = (now, stats)
        return stats

    def _stats_reply(self, request_id: int | None) -> bytes:
        """The ``stats`` reply, encoded once per tick, published message, command and
        ``STATS_EVERY_S`` of wall time (``net.reply_cache``): its figures are those of the first
        ``stats`` since then (a flood of them costs a decode and a copy each), and never older
        than that wall time, paused (no tick) or not."""
        world = self.controls.world
        window = int(time.monotonic() // STATS_EVERY_S)
        key = (world.tick, self.publisher.seq, self._commands_run, window)
        return self._stats_cache.reply(
            key, request_id, lambda rid: self._reply(rid, result=self._stats({}))
        )

    def _stats(self, args: dict[str, Any]) -> dict[str, Any]:
        loop, world = self.controls.loop, self.controls.world
        stats = self._loop_stats()
        now = world.clock.start + timedelta(seconds=world.clock.elapsed_s)
        return {
            "twins": world.n, "tick": stats.ticks, "tick_hz": stats.tick_hz,
            "measured_hz": stats.measured_hz, "time_scale": loop.time_scale,
            "paused": loop.paused, "sim_time": now.isoformat(timespec="seconds"),
            "overruns": stats.overruns, "dropped_ticks": stats.dropped_ticks,
            "followed_twins": self.publisher.followed_twins,
            "ignored_subscriptions": self.publisher.ignored_subscriptions,
            "rate_limited": self.rate_limited, "unsent_ticks": self.publisher.link.dropped,
            "systems": {
                name: {"p50_ms": t.p50_ms, "p99_ms": t.p99_ms, "mean_ms": t.mean_ms}
                for name, t in stats.timings.items()
            },
        }  # fmt: skip


def _no_stats() -> tuple[float, LoopStats | None]:
    return (-math.inf, None)


def rate_limited(what: str, wait_s: float) -> Failure:
    """The ``rate_limited`` failure: ``what`` was exceeded; retry after ``wait_s`` seconds."""
    retry_ms = max(1, int(np.ceil(wait_s * 1000)))
    failure = Failure(reply.RATE_LIMITED, f"{what}; retry in {retry_ms} ms")
    failure.error = ReplyError(reply.RATE_LIMITED, failure.error.message, retry_ms)
    return failure


def _in_range(value: int, path: str, low: int, high: int) -> int:
    """``value``, or ``out_of_range`` outside ``low..high``."""
    if not low <= value <= high:
        raise Failure(reply.OUT_OF_RANGE, f"field '{path}' holds {value}, expected {low}..{high}")
    return value


def read_cells(listed: list) -> list[tuple[int, int]]:
    """The distinct cells of ``listed`` (``[ix, iy]`` pairs of int32), in the order first asked.
    Checked in bulk; a bad cell is found and named one by one (``_cell``)."""
    pairs = all(type(c) is list and len(c) == 2 and type(c[0]) is int and type(c[1]) is int
                for c in listed)  # fmt: skip
    if pairs:
        unique = dict.fromkeys((c[0], c[1]) for c in listed)
        low, high = CELL_RANGE
        if all(low <= ix <= high and low <= iy <= high for ix, iy in unique):
            return list(unique)
    return list(dict.fromkeys(_cell(v, f"args.cells[{i}]") for i, v in enumerate(listed)))


def _cell(value: Any, path: str) -> tuple[int, int]:
    """``[ix, iy]``: two ints in int32."""
    if not isinstance(value, list) or len(value) != 2 or not all(fields.is_int(v) for v in value):
        raise WireError(WRONG_TYPE, f"field '{path}' must be an array of 2 int")
    ix, iy = (_in_range(v, f"{path}[{i}]", *CELL_RANGE) for i, v in enumerate(value))
    return ix, iy


def _id_list(args: dict[str, Any]) -> np.ndarray:
    """``(n,) int64`` the ``ids`` argument: an array of ints or an integer array map, 1 to
    ``MAX_BATCH`` ids, each in 0..``MAX_ID``."""
    value = fields.require(args, "ids", "args")
    if isinstance(value, np.ndarray):  # protocol section 10's templates
        if value.dtype.kind not in "ui":
            got = value.dtype.str
            raise WireError(WRONG_TYPE, f"field 'args.ids' must be an array of <u4, got {got}")
        if value.ndim != 1:
            got = list(value.shape)
            raise WireError(WRONG_TYPE, f"field 'args.ids' must have shape [n], got {got}")
    elif isinstance(value, list):
        bad = next((i for i, v in enumerate(value) if not fields.is_int(v)), None)
        if bad is not None:
            got = type_name(value[bad])
            raise WireError(WRONG_TYPE, f"field 'args.ids[{bad}]' must be int, got {got}")
    else:
        raise WireError(WRONG_TYPE, f"field 'args.ids' must be array, got {type_name(value)}")
    if not 1 <= len(value) <= MAX_BATCH:
        message = _range_message("ids", f"{len(value)} ids", f"1..{MAX_BATCH} ids")
        raise Failure(reply.OUT_OF_RANGE, message)
    return _checked_ids(value)


def _checked_ids(value: np.ndarray | list[int]) -> np.ndarray:
    """``value`` as ``(n,) int64``; ``out_of_range`` at the first id outside 0..``MAX_ID``."""
    if isinstance(value, list):
        bad = next((i for i, v in enumerate(value) if not 0 <= v <= MAX_ID), None)
    else:
        outside = (value < 0) | (value > MAX_ID)
        bad = int(np.argmax(outside)) if outside.any() else None
    if bad is not None:
        _in_range(int(value[bad]), f"args.ids[{bad}]", 0, MAX_ID)
    return np.asarray(value, dtype=np.int64)


def _range_message(name: str, value: Any, expected: str) -> str:
    return f"field 'args.{name}' holds {value}, expected {expected}"
