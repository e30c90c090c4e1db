"""FrontRequests: the front's ROUTER requests, checked here and answered here or by the shards.

The checks of a single server run first, in its order and with its messages (``docs/protocol.md``
section 6.7; ``net.requests``): decoding within ``[security]`` limits (``bad_request``), the
peer's token bucket (``rate_limited``; a refused peer is muted until its retry time, longer if it
ignores refusals: ``net.limits``), the token's role (``OP_ROLES``: ``unauthorized``,
``forbidden``), the op (``unknown_op``). Then:

============== ==============================================================================
op             answered by
============== ==============================================================================
snapshot       the front: its cells' keyframes and deltas, exact at its seq (``FrontStream``)
roster         the front: the twins it announced, each in its cell
twin, chat     the shard owning the twin's cell (a twin the front does not know: shard 0,
               which answers ``unknown_twin`` or the argument's error)
scenario       the shard owning ``twin``'s cell, as ``twin``; ``list`` and ``stop`` without
               ``twin``: ``unknown_op`` (each shard numbers its own scenarios; not merged yet)
history        with ``id``: the twin's shard; across twins (``population``, ``alerts`` without
               ``id``, ``ack``): ``unknown_op`` (not merged yet)
despawn        each owner its own ids, ``removed`` merged; an id the front does not know:
               ``unknown_twin`` and nothing removed
pause, resume, every shard; the first error, else shard 0's result
time_scale
stats          every shard, merged (sums, the worst timings, per-shard entries in ``shards``)
spawn, town    shard 0
============== ==============================================================================

An argument a shard checks is checked there, so its errors are the server's own. Replies carry
the front's tick, seq and time. The shards get the request under a request id of the front's
(one DEALER per shard), with the caller's token. A shard silent for ``SILENT_S`` or without a
reply after ``timeout_s`` makes the request fail with ``internal`` naming the shard (``stats``
answers with the shards that replied and marks the others down).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthtwin.engine.config import SecurityConfig
from synthtwin.net.auth import AuthError, Role, TokenStore
from synthtwin.net.front_stream import FrontStream
from synthtwin.net.limits import PeerBuckets
from synthtwin.net.requests import (
    MAX_BATCH,
    MAX_ID,
    MAX_MESSAGE_CHARS,
    OP_ROLES,
    Failure,
    rate_limited,
    read_cells,
)
from synthtwin.net.wire import fields, reply, request
from synthtwin.net.wire.errors import WireError, clip
from synthtwin.net.wire.reply import Reply, ReplyError

__all__ = ["DEFERRED_TIMEOUT_S", "FrontRequests", "ShardCall"]

log = logging.getLogger(__name__)

DEFERRED_TIMEOUT_S = 30.0
"""How long ``chat`` and ``history`` wait for their shard (answered off the tick), seconds."""
CROSS_TWIN_HISTORY = ("population", "alerts", "ack")
"""``history`` queries over many twins, not merged across shards yet."""
CROSS_TWIN_SCENARIO = ("list", "stop")
"""``scenario`` actions that without ``twin`` span every shard, not merged yet."""
UNREACHABLE = "is unavailable: not connected"
"""Why a request failed whose shard the front has no connection to."""
SILENT = "is unavailable: nothing heard from it lately"
"""Why a request failed whose shard published nothing for ``net.front.SILENT_S``."""
Merge = Callable[[list[tuple[int, Reply]]], dict[str, Any]]
"""The result of a request from its shards' ok replies, ``(shard, reply)`` in call order."""


@dataclass(frozen=True)
class ShardCall:
    """A request payload for shard ``shard``'s ROUTER, under the front's ``request_id``."""

    shard: int
    request_id: int
    payload: bytes


@dataclass
class _Pending:
    """A request waiting for its shards' replies.

    Attributes:
        envelope: the caller's ROUTER envelope; None for the front's own join of a shard.
        client_id: the caller's request id.
        calls: the front's request ids, in call order, with their shard.
        merge: the result from the replies (all ok).
        deadline_s: monotonic time after which missing replies fail the request.
        wait_s: how long it waits, wall seconds.
        partial: whether missing shards are left out (``stats``) instead of failing it.
        unreachable: a shard it could not be sent to (not connected), if any.
    """

    envelope: list[bytes] | None
    client_id: int | None
    calls: dict[int, int]
    merge: Merge
    deadline_s: float
    wait_s: float
    partial: bool = False
    replies: dict[int, Reply] = field(default_factory=dict)
    unreachable: int | None = None

    def done(self) -> bool:
        return len(self.replies) == len(self.calls)

    def answered(self) -> list[tuple[int, Reply]]:
        return [(shard, self.replies[i]) for i, shard in self.calls.items() if i in self.replies]


class FrontRequests:
    """Routes requests to the shards and merges their replies (see the module docstring).

    Args:
        stream: the merged stream (snapshots, roster, twin owners, the front's seq).
        routers: each shard's ROUTER endpoint (for messages).
        security: limits and rates (``[security]``).
        tokens: the token store; None: open access.
        timeout_s: how long a request waits for a shard, wall seconds.
        own_token: the front's token for its own requests (joins), with access control.
        counters: the front's own counts for ``stats`` (``front``), e.g. messages published.

    Attributes:
        rate_limited: requests refused or dropped for their peer's rate.
    """

    def __init__(
        self,
        stream: FrontStream,
        routers: Sequence[str],
        security: SecurityConfig,
        tokens: TokenStore | None,
        timeout_s: float,
        own_token: str | None = None,
        counters: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.stream = stream
        self.own_token = own_token
        self.counters = counters
        self.routers = list(routers)
        self.security = security
        self.tokens = tokens
        self.timeout_s = timeout_s
        self.limits = request.RequestLimits(security.max_list_items, security.max_nesting)
        self.peers = PeerBuckets(security.router_rate_per_s, security.router_burst)
        self.rate_limited = 0
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        """Pending requests by each of their front request ids."""
        self._out: list[tuple[list[bytes], bytes]] = []
        self._failed_joins: list[int] = []

    # -- callers' requests ---------------------------------------------------------------------

    def handle(
        self,
        envelope: list[bytes],
        payload: bytes,
        down: Set[int],
        unconnected: Set[int] = frozenset(),
    ) -> list[ShardCall]:
        """Check a caller's request; answer it (``replies``) or return the shard calls it
        needs. ``down``: the shards silent for too long; ``unconnected``: those a call cannot be
        sent to now. A request needing one of those is sent to none (``stats``: to the others),
        so that no shard runs a pause or despawn that another cannot."""
        peer = envelope[0] if envelope else b""
        now = time.monotonic()
        if self.peers.muted(peer, now):
            self.rate_limited += 1
            return []
        request_id = None
        try:
            req = request.decode(payload, self.limits)
            request_id = req.id
            wait_s = self.peers.take(peer, now)
            if wait_s > 0:
                self.rate_limited += 1
                raise rate_limited(f"more than {self.security.router_rate_per_s:g} requests a "
                                   "second", wait_s)  # fmt: skip
            if self.tokens is not None:
                self.tokens.check(req.token, OP_ROLES.get(req.op, Role.VIEWER))
            return self._route(envelope, req, down, unconnected, now)
        except WireError as err:
            self._answer(envelope, request_id, error=ReplyError(reply.BAD_REQUEST, err.message))
        except AuthError as err:
            self._answer(envelope, request_id, error=ReplyError(err.code, str(err)))
        except Failure as failure:
            self._answer(envelope, request_id, error=failure.error)
        except Exception as err:  # noqa: BLE001 - the front must answer, whatever failed
            log.exception("request %s failed at the front", request_id)
            message = f"{type(err).__name__}: {clip(err)}"
            self._answer(envelope, request_id, error=ReplyError(reply.INTERNAL, message))
        return []

    def _route(
        self,
        envelope: list[bytes],
        req: request.Request,
        down: Set[int],
        unconnected: Set[int],
        now: float,
    ) -> list[ShardCall]:
        op = req.op
        if op == "snapshot":
            cells = None
            if "cells" in req.args:
                cells = read_cells(fields.read_list(req.args, "cells", "args"))
            self._answer(envelope, req.id, {"crowd": self.stream.snapshot(cells)})
            return []
        if op == "roster":
            self._answer(envelope, req.id, self._roster())
            return []
        if op not in OP_ROLES:
            raise Failure(reply.UNKNOWN_OP, f"unknown op '{clip(op)}'")
        targets, merge = self._targets(req)
        everyone = op == "stats"
        if everyone:
            out = down | unconnected
            targets = [(k, args) for k, args in targets if k not in out] or targets[:1]
        for shards, why in ((down, SILENT), (unconnected, UNREACHABLE)):
            failing = [k for k, _ in targets if k in shards]
            if failing:
                raise Failure(reply.INTERNAL, f"{_shard_name(failing[0], self.routers)} {why}")
        wait_s = DEFERRED_TIMEOUT_S if op in ("chat", "history") else self.timeout_s
        pending = _Pending(envelope, req.id, {}, merge, now + wait_s, wait_s, everyone)
        return [self._call(pending, k, op, args, req.token) for k, args in targets]

    def _call(
        self, pending: _Pending, shard: int, op: str, args: dict[str, Any], token: str | None
    ) -> ShardCall:
        self._next_id += 1
        pending.calls[self._next_id] = shard
        self._pending[self._next_id] = pending
        message = request.Request(self._next_id, op, args, token=token)
        return ShardCall(shard, self._next_id, request.encode(message))

    def _roster(self) -> dict[str, Any]:
        if self.stream.tables is None:
            raise Failure(reply.INTERNAL, "no shard has joined the front yet; ask again")
        ids, cells = self.stream.roster()
        epoch, activities, clips = self.stream.tables
        return {
            "protocol": 1, "epoch": epoch, "activities": list(activities), "clips": list(clips),
            "ids": ids, "cells": cells,
        }  # fmt: skip

    def _targets(self, req: request.Request) -> tuple[list[tuple[int, dict]], Merge]:
        """The shards a request goes to, each with its arguments, and how to merge."""
        op, args = req.op, req.args
        every = list(range(len(self.routers)))
        if op in ("twin", "chat"):
            return [(self._owner(args.get("id")), args)], _first
        if op == "history":
            if "id" not in args and args.get("query") in CROSS_TWIN_HISTORY:
                message = f"history query '{args['query']}' across shards is not served by the " \
                          "front yet: ask one twin's (with 'id')"  # fmt: skip
                raise Failure(reply.UNKNOWN_OP, message)
            return [(self._owner(args.get("id")), args)], _first
        if op == "scenario":
            return [(self._scenario_owner(args), args)], _first
        if op == "despawn":
            return self._despawn_targets(args), _removed
        if op == "stats":
            return [(k, args) for k in every], self._stats
        if op in ("pause", "resume", "time_scale"):
            return [(k, args) for k in every], _first
        if op in ("spawn", "town"):
            return [(0, args)], _first
        raise Failure(reply.UNKNOWN_OP, f"op '{op}' is not routed to the shards by the front yet")

    def _owner(self, twin_id: Any) -> int:
        """The shard of a twin (an int the front knows), else shard 0 (which checks the id)."""
        owner = self.stream.owner_of(twin_id) if fields.is_int(twin_id) else None
        return 0 if owner is None else owner

    def _scenario_owner(self, args: dict[str, Any]) -> int:
        """The shard of the scenario's ``twin``; ``list`` and ``stop`` without one would need
        every shard's scenarios (their ids are each shard's own): not served yet."""
        action = args.get("action")
        if action in CROSS_TWIN_SCENARIO and "twin" not in args:
            message = f"scenario '{action}' across shards is not served by the front yet: " \
                      "name the twin ('twin')"  # fmt: skip
            raise Failure(reply.UNKNOWN_OP, message)
        return self._owner(args.get("twin"))

    def _despawn_targets(self, args: dict[str, Any]) -> list[tuple[int, dict]]:
        """Each owner with its ids; ids the shards must check themselves (a bad list) go to
        shard 0 whole, for its exact error."""
        ids = args.get("ids")
        listed = isinstance(ids, list) and all(fields.is_int(i) for i in ids)
        if isinstance(ids, np.ndarray) and ids.dtype.kind in "ui" and ids.ndim == 1:
            listed, ids = True, ids.tolist()
        if not listed or not 1 <= len(ids) <= MAX_BATCH or not all(0 <= i <= MAX_ID for i in ids):
            return [(0, args)]
        owners: dict[int, list[int]] = {}
        for twin in sorted(set(ids)):
            owner = self.stream.owner_of(twin)
            if owner is None:
                raise Failure(reply.UNKNOWN_TWIN, f"twin {twin} does not exist")
            owners.setdefault(owner, []).append(twin)
        return [(k, {"ids": owned}) for k, owned in sorted(owners.items())]

    def _stats(self, answered: list[tuple[int, Reply]]) -> dict[str, Any]:
        front = {"seq": self.stream.seq, "dropped_deltas": self.stream.dropped_deltas,
                 "foreign_cells": self.stream.foreign_cells, **self.counters()}  # fmt: skip
        return merge_stats(
            {k: r.result for k, r in answered}, self.routers, self.rate_limited, front
        )

    # -- the front's own join of a shard -------------------------------------------------------

    def join(self, shard: int) -> list[ShardCall]:
        """``roster`` and ``snapshot`` of every cell, pipelined to ``shard``; ``take_reply``
        returns both replies once they are in (a failure: ``failed_joins``)."""
        deadline_s = time.monotonic() + self.timeout_s
        pending = _Pending(None, None, {}, _first, deadline_s, self.timeout_s)
        calls = ("roster", "snapshot")
        return [self._call(pending, shard, op, {}, self.own_token) for op in calls]

    def failed_joins(self) -> list[int]:
        """Shards whose join failed since the last call (ask again later)."""
        failed, self._failed_joins = self._failed_joins, []
        return failed

    # -- shards' replies -----------------------------------------------------------------------

    def take_reply(self, shard: int, frame: bytes) -> tuple[Reply, Reply] | None:
        """A shard's reply; the ``(roster, snapshot)`` replies of a join it completes."""
        try:
            answer = reply.decode(frame)
        except WireError:
            return None
        pending = self._pending.pop(answer.id, None)
        if pending is None:  # answered after its request expired
            return None
        pending.replies[answer.id] = answer
        if not pending.done():
            return None
        return self._finish(pending)

    def unreachable(self, call: ShardCall) -> None:
        """``call`` could not be sent (no connection to its shard): its request fails now."""
        pending = self._pending.get(call.request_id)
        if pending is None:  # already failed by another of its calls
            return
        for request_id in pending.calls:
            self._pending.pop(request_id, None)
        pending.unreachable = call.shard
        self._finish(pending)

    def expire(self, now_s: float) -> None:
        """Fail (or, for ``stats``, answer with what came) the requests past their deadline."""
        late = {id(p): p for p in self._pending.values() if p.deadline_s <= now_s}
        for pending in late.values():
            for request_id in pending.calls:
                self._pending.pop(request_id, None)
            self._finish(pending)

    def _finish(self, pending: _Pending) -> tuple[Reply, Reply] | None:
        answered = pending.answered()
        missing = [k for i, k in pending.calls.items() if i not in pending.replies]
        failed = next((r for _, r in answered if not r.ok), None)
        if pending.envelope is None:  # a join
            if missing or failed is not None:
                self._failed_joins.append(next(iter(pending.calls.values())))
                return None
            return answered[0][1], answered[1][1]
        if failed is not None:
            self._answer(pending.envelope, pending.client_id, error=failed.error)
        elif missing and not (pending.partial and answered):
            name = _shard_name(missing[0], self.routers)
            why = f"did not answer within {pending.wait_s:g} s"
            if pending.unreachable is not None:
                name, why = _shard_name(pending.unreachable, self.routers), UNREACHABLE
            error = ReplyError(reply.INTERNAL, f"{name} {why}")
            self._answer(pending.envelope, pending.client_id, error=error)
        else:
            self._answer(pending.envelope, pending.client_id, **self._merged(pending, answered))
        return None

    def _merged(self, pending: _Pending, answered: list[tuple[int, Reply]]) -> dict[str, Any]:
        """``result`` merged from the shards' replies, or the ``internal`` ``error`` saying
        which shard's reply lacked what (a shard must not end the front's loop)."""
        try:
            return {"result": pending.merge(answered)}
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            shards = ", ".join(_shard_name(k, self.routers) for k, _ in answered)
            message = f"the replies of {shards} cannot be merged: {type(err).__name__}: {clip(err)}"
            return {"error": ReplyError(reply.INTERNAL, message)}

    # -- replies to callers --------------------------------------------------------------------

    def _answer(
        self,
        envelope: list[bytes],
        request_id: int | None,
        result: dict[str, Any] | None = None,
        error: ReplyError | None = None,
    ) -> None:
        if error is not None and len(error.message) > MAX_MESSAGE_CHARS:
            message = error.message[: MAX_MESSAGE_CHARS - 3] + "..."
            error = ReplyError(error.code, message, error.retry_after_ms)
        stream = self.stream
        answer = Reply(
            stream.tick, stream.seq, stream.t_s, request_id, error is None, result, error
        )
        self._out.append((envelope, reply.encode(answer)))

    def replies(self) -> list[tuple[list[bytes], bytes]]:
        """The replies ready to send since the last call: ``(envelope, payload)``."""
        out, self._out = self._out, []
        return out


def _shard_name(shard: int, routers: Sequence[str]) -> str:
    return f"shard {shard} ({routers[shard]})"


def _first(answered: list[tuple[int, Reply]]) -> dict[str, Any]:
    """The first shard's result (ops every shard answers alike, or one shard answers)."""
    return answered[0][1].result


def _removed(answered: list[tuple[int, Reply]]) -> dict[str, Any]:
    """``despawn``: every shard's ``removed``, ascending."""
    removed = np.concatenate([np.asarray(r.result["removed"], np.uint32) for _, r in answered])
    return {"removed": np.sort(removed)}


SUMMED = (
    "twins",
    "overruns",
    "dropped_ticks",
    "followed_twins",
    "ignored_subscriptions",
    "unsent_ticks",
)
"""``stats`` fields that add up over the shards."""


def merge_stats(
    results: dict[int, dict[str, Any]],
    routers: Sequence[str],
    front_rate_limited: int,
    front: dict[str, Any],
) -> dict[str, Any]:
    """One ``stats`` result from the shards' (``results``, by shard; the missing ones are down):
    counts summed, the latest tick and its ``sim_time``, the slowest ``measured_hz``, each
    system's worst timings; plus ``shards`` (each shard's ``router``, ``up`` and, when up, its
    ``twins``, ``tick``, ``measured_hz``, ``overruns``, ``dropped_ticks``) and ``front`` (its
    ``seq``, dropped counts and ``counters``). Fields added to protocol 1's ``stats`` as
    optional keys."""
    up = [results[k] for k in sorted(results)]
    latest = max(up, key=lambda r: r["tick"])
    merged = {name: sum(int(r[name]) for r in up) for name in SUMMED}
    systems: dict[str, dict[str, float]] = {}
    for r in up:
        for name, timing in r["systems"].items():
            worst = systems.setdefault(name, dict(timing))
            for key, value in timing.items():
                worst[key] = max(worst[key], value)
    shards = []
    for k, router in enumerate(routers):
        entry: dict[str, Any] = {"router": router, "up": k in results}
        if k in results:
            entry |= {key: results[k][key] for key in (
                "twins", "tick", "measured_hz", "overruns", "dropped_ticks")}  # fmt: skip
        shards.append(entry)
    return {
        **merged, "tick": latest["tick"], "tick_hz": up[0]["tick_hz"],
        "measured_hz": min(r["measured_hz"] for r in up), "time_scale": up[0]["time_scale"],
        "paused": all(r["paused"] for r in up), "sim_time": latest["sim_time"],
        "rate_limited": sum(int(r["rate_limited"]) for r in up) + front_rate_limited,
        "systems": systems, "shards": shards, "front": front,
    }  # fmt: skip
