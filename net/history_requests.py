"""The ROUTER ``history`` op: health-record queries run off the tick and answered at a later poll.

Pattern: a deferred reply, the mechanism of the ``chat`` op (``net.chat_requests.Deferred``; the
server keeps the caller's envelope under the ticket). In a tick's INPUT phase the request
handler (``net.requests``) hands the op's args to ``HistoryRequests.submit``: it checks them
(types, dates, ranges; a bad one is refused there and then) and queues the query on one worker
thread, which reads the store through a DuckDB connection of its own (``HealthStore.cursor``,
beside the writer's); the handler returns the ``Deferred`` ticket. At every later poll
``finished`` hands back the queries done, each with its result or error. Tickets are negative,
so they never meet the chat op's (positive) ones. At most ``max_pending`` queries wait at once;
beyond that the op answers ``rate_limited``. Args (``docs/protocol.md``, section "history"):

- ``query``: ``"history"`` (``id``, ``resolution`` minute|hour|day, ``from``, ``to``),
  ``"timeline"`` (``id``, ``date``), ``"baselines"`` (``id``, ``from``, ``to``: rolling 7- and
  28-day baselines and 28-day trends) or ``"population"`` (``from``, ``to``, ``group_by``);
- dates are ``YYYY-MM-DD`` strings of simulated days; ``to`` defaults to the simulated today,
  ``from`` to ``to`` (minute, hour) or 29 days before it (day, baselines, population); ``date``
  to today.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from synthtwin.engine.health_query import (
    GROUPS,
    MAX_DAYS,
    RESOLUTIONS,
    DayRange,
    HistoryError,
    acknowledge,
    days_before,
    list_alerts,
    population_daily,
    twin_baselines,
    twin_history,
    twin_timeline,
)
from synthtwin.engine.health_store import HealthStore
from synthtwin.engine.world import World
from synthtwin.net.chat_requests import Deferred, Publish
from synthtwin.net.wire import event, fields, reply, topics
from synthtwin.net.wire.errors import clip
from synthtwin.net.wire.reply import ReplyError

__all__ = [
    "ALERTS_PER_POLL",
    "BUSY_RETRY_MS",
    "QUERIES",
    "HistoryDone",
    "HistoryRefused",
    "HistoryRequests",
    "alert_event",
    "parse_query",
]

log = logging.getLogger(__name__)

QUERIES = ("history", "timeline", "population", "baselines", "alerts", "ack")
ALERT = "alert"
ALERT_TOPIC = topics.topic_for("event", event_type=ALERT)
"""``event/alert``."""
BUSY_RETRY_MS = 50
"""``retry_after_ms`` of a query refused while ``max_pending`` wait (each takes milliseconds)."""
DEFAULT_DAYS = 30
"""Days a daily history or population query covers when ``from`` is not given."""
MAX_TWIN_ID = 2**32 - 1
ALERTS_PER_POLL = 64
"""``event/alert`` messages published at one poll, at most: a closed day fires thousands at
10,000 twins (~6 us each to encode), which would take tens of milliseconds from one tick and
overrun a subscriber's high-water mark at once; the rest go at the next polls (~2,000 a second
at 30 Hz)."""


@dataclass(frozen=True)
class HistoryDone:
    """A finished query: its ``result`` (the op's result map) or its ``error``."""

    ticket: int
    result: dict[str, Any] | None
    error: ReplyError | None


class HistoryRefused(Exception):
    """A query not queued (bad arguments, or too many waiting); ``error`` is the reply's."""

    def __init__(self, error: ReplyError) -> None:
        super().__init__(error.message)
        self.error = error


class HistoryRequests:
    """``history`` queries between the ROUTER and their worker thread (simulation thread only).

    Args:
        store: the health record (its writer's database).
        world: the running world (its simulated today ends a range by default; its tick and
            time stamp each ``event/alert``).
        publish: where each alert goes as ``event/alert`` (``ZmqServer.publish_health``);
            None: nowhere.
        alerts: takes the alerts fired since the last call (``RecordWriter.take_alerts``);
            None: no alerts.
        max_pending: queries waiting or running at once, at most.
    """

    def __init__(
        self,
        store: HealthStore,
        world: World,
        publish: Publish | None = None,
        alerts: Callable[[], list[dict[str, Any]]] | None = None,
        max_pending: int = 8,
    ) -> None:
        self.world = world
        self.publish = publish
        self.alerts = alerts
        self.max_pending = max_pending
        self._db = store.cursor()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._pending: deque[tuple[int, Future[dict[str, Any]]]] = deque()
        self._tickets = itertools.count(-1, -1)
        self._alerts: deque[dict[str, Any]] = deque()
        """Alerts taken from ``alerts`` and not published yet, oldest first."""

    def submit(self, args: dict[str, Any]) -> Deferred:
        """Check ``args`` and queue the query; the ticket of its reply.

        Raises:
            WireError: a missing or mistyped argument; HistoryRefused: a value out of range or
            form, or the worker is full. Nothing is queued then.
        """
        try:
            query = parse_query(args, self.world.clock.date)
        except HistoryError as err:
            raise HistoryRefused(ReplyError(err.code, str(err))) from None
        if len(self._pending) >= self.max_pending:
            text = f"{self.max_pending} history queries are running; retry in {BUSY_RETRY_MS} ms"
            raise HistoryRefused(ReplyError(reply.RATE_LIMITED, text, BUSY_RETRY_MS))
        ticket = next(self._tickets)
        self._pending.append((ticket, self._worker.submit(query, self._db)))
        return Deferred(ticket)

    def fetch(self, query: Query) -> Future[Any]:
        """Run ``query`` (a function of the record's connection) on the query thread, after the
        queries before it; its future. For other parts of the server that read the record off
        the tick (a chat reads its twin's past days, ``net.chat_requests``): no ticket, no reply,
        not counted in ``max_pending``.

        Raises:
            RuntimeError: the queries are closed.
        """
        return self._worker.submit(query, self._db)

    def finished(self) -> list[HistoryDone]:
        """The queries done since the last call, oldest first; never blocks. Publishes the
        alerts fired since the last call first."""
        self._publish_alerts()
        done = []
        while self._pending and self._pending[0][1].done():
            ticket, future = self._pending.popleft()
            error = future.exception()
            if error is None:
                done.append(HistoryDone(ticket, future.result(), None))
            elif isinstance(error, HistoryError):
                done.append(HistoryDone(ticket, None, ReplyError(error.code, str(error))))
            else:
                log.error("history query failed: %r", error)
                text = f"{type(error).__name__}: {clip(error)}"
                done.append(HistoryDone(ticket, None, ReplyError(reply.INTERNAL, text)))
        return done

    def _publish_alerts(self) -> None:
        """``event/alert`` of the alerts fired since the last call, at the world's tick: at most
        ``ALERTS_PER_POLL``, the others at the next polls."""
        if self.alerts is None:
            return
        self._alerts.extend(self.alerts())
        tick, t_s = self.world.tick, self.world.clock.elapsed_s
        for _ in range(min(ALERTS_PER_POLL, len(self._alerts))):
            alert = self._alerts.popleft()
            if self.publish is not None:
                self.publish(ALERT_TOPIC, lambda seq, a=alert: event.encode(
                    alert_event(tick, seq, t_s, a)))  # fmt: skip

    def close(self) -> None:
        """Stop the worker (queries not started are dropped) and its connection."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        self._db.close()


Query = Callable[[Any], dict[str, Any]]
"""A checked query: a function of a DuckDB connection that returns the op's result."""


def parse_query(args: dict[str, Any], today: date) -> Query:
    """The ``history`` op's ``args`` checked (module docstring); ``today`` is the simulated date
    ranges end at by default.

    Raises:
        WireError: a missing or mistyped argument (``bad_request``); HistoryError: a value out of
        range or form, with its reply code.
    """
    kind = fields.read_str(args, "query", "args")
    if kind not in QUERIES:
        raise HistoryError("out_of_range", f"args.query '{clip(kind)}': expected {QUERIES}")
    if kind == "alerts":
        days = _range(args, "day", today)
        twin = fields.read_int(args, "id", "args") if "id" in args else None
        return lambda db: list_alerts(db, days, twin)
    if kind == "ack":
        alert_id = fields.read_int(args, "alert_id", "args")
        return lambda db: acknowledge(db, alert_id)
    if kind == "population":
        days = _range(args, "day", today)
        group_by = _text(args, "group_by", "age_band")
        if group_by not in GROUPS:
            raise HistoryError("out_of_range", f"args.group_by '{clip(group_by)}': "
                               f"expected one of {GROUPS}")  # fmt: skip
        return lambda db: population_daily(db, days, group_by)
    twin_id = fields.read_int(args, "id", "args")
    if not 0 <= twin_id <= MAX_TWIN_ID:
        raise HistoryError("out_of_range", f"args.id {twin_id}: expected 0..{MAX_TWIN_ID}")
    if kind == "timeline":
        day = _day(args, "date", today)
        return lambda db: twin_timeline(db, twin_id, day)
    if kind == "baselines":
        days = _range(args, "day", today)
        return lambda db: twin_baselines(db, twin_id, days)
    resolution = _text(args, "resolution", "day")
    if resolution not in RESOLUTIONS:
        raise HistoryError("out_of_range", f"args.resolution '{clip(resolution)}': "
                           f"expected one of {RESOLUTIONS}")  # fmt: skip
    days = _range(args, resolution, today)
    return lambda db: twin_history(db, twin_id, days, resolution)


def _range(args: dict[str, Any], resolution: str, today: date) -> DayRange:
    last = _day(args, "to", today)
    back = DEFAULT_DAYS - 1 if resolution == "day" else 0
    first = _day(args, "from", days_before(last, back))
    return DayRange.checked(first, last, MAX_DAYS[resolution])


def alert_event(tick: int, seq: int, t_s: float, alert: dict[str, Any]) -> event.EventMessage:
    """The ``event/alert`` message of one stored alert (``alert_id``, ``twin_id``, ``day``,
    ``rule``, ``value``): its twin, and ``data`` ``{alert_id, rule, day, value}``."""
    data = {"alert_id": int(alert["alert_id"]), "rule": str(alert["rule"]),
            "day": str(alert["day"])[:10], "value": float(alert["value"])}  # fmt: skip
    return event.EventMessage(tick, seq, t_s, ALERT, int(alert["twin_id"]), data)


def _text(args: dict[str, Any], key: str, default: str) -> str:
    return fields.read_str(args, key, "args") if key in args else default


def _day(args: dict[str, Any], key: str, default: date) -> date:
    """``args[key]`` as a date (``YYYY-MM-DD``, before ``date.max``: a query reads up to the
    midnight after its last day), or ``default`` when absent."""
    if key not in args:
        return default
    text = fields.read_str(args, key, "args")
    try:
        day = date.fromisoformat(text) if len(text) == 10 else _bad_day(key, text)
    except ValueError:
        return _bad_day(key, text)
    if day == date.max:
        raise HistoryError("out_of_range", f"args.{key} '{text}': expected a day before {day}")
    return day


def _bad_day(key: str, text: str) -> date:
    raise HistoryError("bad_request", f"args.{key} '{clip(text)}': expected a date YYYY-MM-DD")
