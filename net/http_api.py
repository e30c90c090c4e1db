"""The HTTP REST API of ``twin serve``: JSON for tools and browsers, OpenAPI docs at ``/docs``.

Pattern: a gateway that is a client of the ROUTER (the request side of Clone, ``docs/protocol.md``
sections 6.6, 6.7 and 7). The API never touches the world: each REST call becomes one request
(two for the twin list) on a DEALER socket to the simulation's ROUTER, which the simulation thread
answers between ticks (``net.requests``). So every answer is consistent with one tick, every
mutation happens between ticks, and bad input changes nothing, exactly as over ZeroMQ.

==========================  ==================================  ================================
REST call                   body                                ROUTER operation
==========================  ==================================  ================================
GET    /api/twins           ``?offset&limit&q&activity``        ``roster`` + ``snapshot``
GET    /api/twins/{id}                                          ``twin``
POST   /api/twins/spawn     ``{"count": n, "seed": s}``         ``spawn``
POST   /api/twins/despawn   ``{"ids": [...]}``                  ``despawn``
DELETE /api/twins/{id}                                          ``despawn`` of one twin
POST   /api/webrtc/offer    ``{"sdp": ..., "type": "offer"}``   (video view, ``net.webrtc``)
GET    /api/viewers                                             (video view, ``net.webrtc``)
GET    /api/legend                                              (video colours, ``net.render``)
PUT    /api/time-scale      ``{"scale": x}``                    ``time_scale``
POST   /api/pause                                               ``pause``
POST   /api/resume                                              ``resume``
GET    /api/stats                                               ``stats``
==========================  ==================================  ================================

Errors are ``{"detail": message}`` with the server's message: ``unknown_twin`` is 404,
``out_of_range`` 422, ``bad_request`` 400, ``unknown_op`` and ``internal`` 500, and a simulation
that does not answer within ``timeout_s`` 503. A body or query that fails validation is FastAPI's
own 422 and never reaches the simulation.

The browser page in ``clients/web/`` (plain files, no build step) is served at ``/``.

``create_app`` builds the app; ``net.gateway`` serves it with uvicorn in a process of its own.
"""

from __future__ import annotations

import math
import pathlib
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import numpy as np
import zmq
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.components.town import PLACE_KINDS
from synthtwin.net.render.assets import CrowdAssets
from synthtwin.net.render.colour import PALETTE, PLACE_RGB
from synthtwin.net.webrtc import BadOffer, WebRtcHub
from synthtwin.net.wire import reply, request
from synthtwin.net.wire.crowd import CrowdDecoder, CrowdState, merge_latest
from synthtwin.net.wire.reply import Reply

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "OperationFailed",
    "RouterClient",
    "SimulationUnavailable",
    "WEB_DIR",
    "create_app",
]

DEFAULT_TIMEOUT_S = 5.0
"""How long a REST call waits for the simulation's reply, wall seconds."""
MAX_PAGE = 500
"""Most twins one ``GET /api/twins`` returns."""
MAX_TWIN_ID = 2**32 - 1
"""Twin ids are uint32."""
CONSISTENT_TRIES = 3
"""Attempts to get ``roster`` and ``snapshot`` answered at the same tick before using the last."""
WEB_DIR = pathlib.Path(__file__).resolve().parents[1] / "clients" / "web"
"""The browser page (``clients/web/``), served at ``/`` next to the API."""

STATUS_OF_CODE = {
    reply.BAD_REQUEST: 400,
    reply.UNKNOWN_TWIN: 404,
    reply.OUT_OF_RANGE: 422,
    reply.UNKNOWN_OP: 500,
    reply.INTERNAL: 500,
}
"""HTTP status of each reply error code (``docs/protocol.md`` section 6.7)."""
UNAVAILABLE = 503


class OperationFailed(Exception):
    """The simulation answered with an error reply (``code`` from ``REPLY_ERROR_CODES``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SimulationUnavailable(Exception):
    """The simulation did not answer in time, or has stopped; the message says which."""


# -- the ROUTER client -----------------------------------------------------------------------------


class RouterClient:
    """Requests to the simulation's ROUTER from many threads at once.

    A small pool of DEALER sockets, guarded by a lock: each call takes an idle socket (or makes
    one), so concurrent REST calls never share a socket; a socket whose call timed out is closed
    rather than reused (its late reply must not answer a later call). Reply ids grow by one per
    request across the pool and replies are matched by id.

    Args:
        endpoint: the ROUTER endpoint, e.g. ``tcp://127.0.0.1:5557``.
        timeout_s: how long a call waits for its replies, wall seconds.
        context: the ZeroMQ context (the server's own for ``inproc://``); None makes one, which
            ``close`` terminates.
    """

    def __init__(
        self,
        endpoint: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        context: zmq.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._own_context = context is None
        self._context = context if context is not None else zmq.Context()
        self._lock = threading.Lock()
        self._idle: list[zmq.Socket] = []
        self._busy = 0
        self._next_id = 1
        self._closed = False

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """The result of ``op`` (numeric arrays as numpy arrays).

        Raises:
            OperationFailed: the simulation replied with an error.
            SimulationUnavailable: no reply within ``timeout_s``, or the server has stopped.
        """
        (answer,) = self.exchange([(op, args)])
        return _result(answer)

    def exchange(self, calls: Sequence[tuple[str, dict[str, Any]]]) -> list[Reply]:
        """Send every request at once, then wait for every reply (error replies included).

        Requests sent together usually reach the ROUTER in one poll between two ticks; compare
        the replies' ``tick`` to know whether they did.
        """
        sock = self._take()
        healthy = False
        try:
            with self._lock:
                first, self._next_id = self._next_id, self._next_id + len(calls)
            for offset, (op, args) in enumerate(calls):
                sock.send(request.encode(request.Request(first + offset, op, args)))
            answers = self._receive(sock, first, [op for op, _ in calls])
            healthy = True
            return answers
        except zmq.Again:
            raise self._timeout(calls[0][0]) from None
        except zmq.ZMQError as err:
            if err.errno == zmq.ETERM:
                raise SimulationUnavailable("the simulation has stopped") from None
            raise
        finally:
            self._give(sock, healthy)

    def _receive(self, sock: zmq.Socket, first: int, ops: list[str]) -> list[Reply]:
        answers: dict[int, Reply] = {}
        deadline = time.monotonic() + self.timeout_s
        while len(answers) < len(ops):
            left_ms = round((deadline - time.monotonic()) * 1000)
            if left_ms <= 0 or not sock.poll(max(1, left_ms)):
                missing = next(i for i in range(len(ops)) if first + i not in answers)
                raise self._timeout(ops[missing])
            answer = reply.decode(sock.recv_multipart()[-1])
            if answer.id is not None and first <= answer.id < first + len(ops):
                answers[answer.id] = answer
        return [answers[first + i] for i in range(len(ops))]

    def _timeout(self, op: str) -> SimulationUnavailable:
        return SimulationUnavailable(
            f"the simulation did not answer '{op}' within {self.timeout_s:g} s"
        )

    def _take(self) -> zmq.Socket:
        with self._lock:
            if self._closed:
                raise SimulationUnavailable("the simulation has stopped")
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            sock = self._context.socket(zmq.DEALER)
        except zmq.ZMQError:
            self._give(None, False)
            raise SimulationUnavailable("the simulation has stopped") from None
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, max(1, round(self.timeout_s * 1000)))
        sock.connect(self.endpoint)
        return sock

    def _give(self, sock: zmq.Socket | None, reusable: bool) -> None:
        with self._lock:
            self._busy -= 1
            if sock is not None and reusable and not self._closed:
                self._idle.append(sock)
                return
            last = self._closed and self._busy == 0
        if sock is not None:
            sock.close(linger=0)
        if last:
            self._term()

    def close(self) -> None:
        """Close the idle sockets now and the busy ones when their calls end."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            last = self._busy == 0
        for sock in idle:
            sock.close(linger=0)
        if last:
            self._term()

    def _term(self) -> None:
        if self._own_context:
            self._context.term()


def _result(answer: Reply) -> dict[str, Any]:
    if not answer.ok:
        raise OperationFailed(answer.error.code, answer.error.message)
    return answer.result


# -- the models (what /docs shows) -----------------------------------------------------------------


class _Body(BaseModel):
    """A request body: strict JSON types (no "3" for 3, no true for 1), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid")


class _Result(BaseModel):
    """A result mirrored from a protocol map: fields added to the protocol pass through."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    detail: str = Field(description="the server's message, e.g. `twin 9 does not exist`")


class TwinItem(_Result):
    id: int = Field(description="twin id (uint32)")
    cell: tuple[int, int] = Field(description="[ix, iy], the 2 km cell whose crowd carries it")
    activity: str | None = Field(
        description="activity name, as last published on the crowd stream; null for a twin "
        "spawned since its cell's last crowd update"
    )
    pos_m: tuple[float, float] | None = Field(
        description="x east, y north, m (5 cm steps), as last published; null as for activity"
    )


class TwinPage(_Result):
    total: int = Field(description="twins that match the query")
    offset: int
    limit: int
    items: list[TwinItem] = Field(description="at most `limit` twins, ids ascending")


class Vitals(_Result):
    hr_bpm: float = Field(description="heart rate, 1/min")
    sbp_mmhg: float = Field(description="systolic blood pressure, mmHg")
    dbp_mmhg: float = Field(description="diastolic blood pressure, mmHg")
    rr_brpm: float = Field(description="respiration rate, 1/min")
    spo2_pct: float = Field(description="oxygen saturation, %")
    core_temp_c: float = Field(description="core temperature, degC")
    glucose_mgdl: float = Field(description="plasma glucose, mg/dL")
    steps: float = Field(description="steps today")
    energy_kcal: float = Field(description="energy spent today, kcal")
    mets: float = Field(description="intensity now, MET")
    activity: int = Field(description="activity code")


class Profile(_Result):
    age_y: float
    sex: Literal["female", "male"]
    height_cm: float
    weight_kg: float
    bmi: float = Field(description="body-mass index, kg/m2")
    employment: str
    shift: str | None = None
    conditions: list[str] = Field(description="among `hypertension`, `diabetes`")


class Today(_Result):
    steps: int
    energy_kcal: float
    mean_hr: float = Field(description="1/min")
    max_hr: float = Field(description="1/min")
    resting_hr: float | None = Field(description="1/min; null until measured today")
    sbp_mean: float = Field(description="mmHg")
    dbp_mean: float = Field(description="mmHg")
    glucose_mean: float = Field(description="mg/dL")
    glucose_max: float = Field(description="mg/dL")
    sleep_hours: float
    minutes: dict[str, float] = Field(description="minutes today in each of the 12 categories")


class TwinDetail(_Result):
    id: int
    cell: tuple[int, int]
    pos_m: tuple[float, float] = Field(description="x east, y north, m (unquantized)")
    heading_rad: float = Field(description="0 = east, counter-clockwise")
    speed_mps: float
    activity: int = Field(description="activity code")
    activity_name: str
    vitals: Vitals = Field(description="live vital signs, unquantized")
    profile: Profile
    today: Today = Field(description="the twin's day so far")


class SystemTiming(_Result):
    p50_ms: float
    p99_ms: float
    mean_ms: float


class Stats(_Result):
    twins: int
    tick: int
    tick_hz: float = Field(description="configured tick rate")
    measured_hz: float = Field(description="tick rate achieved lately")
    time_scale: float = Field(description="simulated seconds per wall second")
    paused: bool
    sim_time: str = Field(description="local time of the current tick, ISO 8601 without zone")
    overruns: int
    dropped_ticks: int
    systems: dict[str, SystemTiming] = Field(description="time each system takes a tick")


class SpawnRequest(_Body):
    count: int = Field(description="twins to add, 1..10000")
    seed: int | None = Field(None, ge=0, lt=2**63, description="default: the server's next seed")


class Spawned(_Result):
    ids: list[int] = Field(description="the new twins, ascending")


class DespawnRequest(_Body):
    ids: list[Annotated[int, Field(ge=0, le=MAX_TWIN_ID)]] = Field(description="1..10000 ids")


class Removed(_Result):
    removed: list[int] = Field(description="the removed twins, ascending")


class TimeScaleRequest(_Body):
    scale: float = Field(
        allow_inf_nan=False,
        description="simulated seconds per wall second: 0 < scale <= 100000 and scale / tick_hz "
        "<= 600",
    )


class TimeScale(_Result):
    scale: float
    previous: float


class PauseState(_Result):
    paused: bool


class SessionDescription(_Body):
    sdp: str = Field(max_length=100_000, description="SDP text")
    type: Literal["offer", "answer"]


class LegendEntry(BaseModel):
    name: str
    rgb: str = Field(description="the colour in the video, #rrggbb")


class Legend(BaseModel):
    activities: list[LegendEntry] = Field(description="twins, by what they are doing")
    places: list[LegendEntry] = Field(description="the town's places, by kind")


class Viewer(BaseModel):
    id: int = Field(description="viewer number, in order of arrival")
    state: str = Field(description="WebRTC connection state")
    frames: int = Field(description="video frames sent")
    camera: dict[str, float] = Field(description="the viewer's camera (net.render.Camera)")
    selected: int | None = Field(description="the twin selected, if any")
    follow: int | None = Field(description="the twin the camera follows, if any")


# -- the app ---------------------------------------------------------------------------------------


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorDetail} for status in (*statuses, UNAVAILABLE)}


TwinId = Annotated[int, Path(ge=0, le=MAX_TWIN_ID, description="twin id")]


def create_app(
    router_endpoint: str,
    pub_endpoint: str,
    assets: CrowdAssets,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    context: zmq.Context | None = None,
) -> FastAPI:
    """The REST API as a FastAPI app that forwards every call to ``router_endpoint``.

    Args:
        router_endpoint: the simulation's ROUTER, e.g. ``tcp://127.0.0.1:5557``.
        pub_endpoint: the simulation's PUB, which the WebRTC video view subscribes to for the
            crowd and the selected twins' vitals.
        assets: the body and clips the video view draws with.
        timeout_s: how long a call waits for the simulation before answering 503, wall seconds.
        context: ZeroMQ context for the DEALER sockets (None: the app's own).

    The app's ``state.router`` is its ``RouterClient`` and ``state.webrtc`` its ``WebRtcHub``
    (the video viewers), both closed when the app shuts down.
    """
    router = RouterClient(router_endpoint, timeout_s, context)
    hub = WebRtcHub(router, pub_endpoint, assets)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.close()
        router.close()

    app = FastAPI(
        title="SynthTwin",
        summary="Synthetic human digital twins in a realtime simulation",
        description="Every call is answered by the simulation between two ticks "
        '(docs/protocol.md section 7); errors are `{"detail": message}`.',
        version="1",
        lifespan=lifespan,
    )
    app.state.router = router
    app.state.webrtc = hub

    @app.exception_handler(OperationFailed)
    async def operation_failed(_: Request, err: OperationFailed) -> JSONResponse:
        return JSONResponse({"detail": err.message}, STATUS_OF_CODE.get(err.code, 500))

    @app.exception_handler(SimulationUnavailable)
    async def unavailable(_: Request, err: SimulationUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, UNAVAILABLE)

    @app.get("/api/twins", response_model=TwinPage, responses=_errors(422), tags=["twins"])
    def list_twins(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        q: Annotated[
            str | None,
            Query(
                max_length=64,
                description="matches a twin whose id starts with `q` (decimal) or whose current "
                "activity name contains `q` (case-insensitive)",
            ),
        ] = None,
        activity: Annotated[
            str | None, Query(description="only twins doing this activity, e.g. `sleep`")
        ] = None,
    ) -> dict[str, Any]:
        """List and search the twins, ids ascending, a page at a time."""
        roster, crowd = _roster_and_crowd(router)
        names = [name.lower() for name in roster["activities"]]
        ids = np.asarray(roster["ids"], dtype=np.int64)
        cells = np.asarray(roster["cells"]).reshape(-1, 2)
        codes, pos_m = _join_crowd(ids, crowd)
        keep = np.ones(ids.size, bool)
        if activity is not None:
            if activity.lower() not in names:
                message = f"activity '{activity}' is not one of {', '.join(names)}"
                raise OperationFailed(reply.OUT_OF_RANGE, message)
            keep &= codes == names.index(activity.lower())
        if q:
            needle = q.lower()
            by_name = [code for code, name in enumerate(names) if needle in name]
            by_id = np.char.startswith(ids.astype(str), needle) if needle.isdigit() else False
            keep &= by_id | np.isin(codes, by_name)
        rows = np.flatnonzero(keep)
        page = rows[offset : offset + limit]
        items = [
            {
                "id": int(ids[row]),
                "cell": (int(cells[row, 0]), int(cells[row, 1])),
                "activity": names[codes[row]] if 0 <= codes[row] < len(names) else None,
                "pos_m": None if codes[row] < 0 else (float(pos_m[row, 0]), float(pos_m[row, 1])),
            }
            for row in page
        ]
        return {"total": int(rows.size), "offset": offset, "limit": limit, "items": items}

    @app.get("/api/twins/{twin_id}", response_model=TwinDetail, responses=_errors(404),
             tags=["twins"])  # fmt: skip
    def twin(twin_id: TwinId) -> dict[str, Any]:
        """One twin: identity and profile, live vitals, today's aggregates, current activity."""
        details = router.call("twin", id=twin_id)
        code = int(details["activity"])
        details["activity_name"] = ACTIVITY_NAMES[code] if code < len(ACTIVITY_NAMES) else str(code)
        return details

    @app.post("/api/twins/spawn", response_model=Spawned, responses=_errors(422),
              tags=["twins"])  # fmt: skip
    def spawn(body: SpawnRequest) -> dict[str, Any]:
        """Add synthetic twins; they appear at the next tick."""
        args: dict[str, Any] = {"count": body.count}
        if body.seed is not None:
            args["seed"] = body.seed
        return {"ids": _ints(router.call("spawn", **args)["ids"])}

    @app.post("/api/twins/despawn", response_model=Removed, responses=_errors(404, 422),
              tags=["twins"])  # fmt: skip
    def despawn(body: DespawnRequest) -> dict[str, Any]:
        """Remove twins; if any id names no twin, nothing is removed (404 names the first)."""
        return {"removed": _ints(router.call("despawn", ids=body.ids)["removed"])}

    @app.delete("/api/twins/{twin_id}", response_model=Removed, responses=_errors(404),
                tags=["twins"])  # fmt: skip
    def despawn_one(twin_id: TwinId) -> dict[str, Any]:
        """Remove one twin."""
        return {"removed": _ints(router.call("despawn", ids=[twin_id])["removed"])}

    @app.get("/api/stats", response_model=Stats, responses=_errors(), tags=["simulation"])
    def stats() -> dict[str, Any]:
        """The simulation loop: twins, tick, rates, time scale, pause, per-system timings."""
        return router.call("stats")

    @app.put("/api/time-scale", response_model=TimeScale, responses=_errors(422),
             tags=["simulation"])  # fmt: skip
    def time_scale(body: TimeScaleRequest) -> dict[str, Any]:
        """Set simulated seconds per wall-clock second."""
        return router.call("time_scale", scale=float(body.scale))

    @app.post("/api/pause", response_model=PauseState, responses=_errors(), tags=["simulation"])
    def pause() -> dict[str, Any]:
        """Stop simulated time (idempotent); requests are still answered."""
        return router.call("pause")

    @app.post("/api/resume", response_model=PauseState, responses=_errors(),
              tags=["simulation"])  # fmt: skip
    def resume() -> dict[str, Any]:
        """Let simulated time run again (idempotent)."""
        return router.call("resume")

    @app.post("/api/webrtc/offer", response_model=SessionDescription, responses=_errors(400))
    async def webrtc_offer(body: SessionDescription) -> dict[str, Any]:
        """Start a video view: a WebRTC offer (with a data channel) in, the answer out."""
        if body.type != "offer":
            raise OperationFailed(reply.BAD_REQUEST, "type must be 'offer'")
        try:
            answer = await hub.answer(body.sdp, body.type)
        except BadOffer as err:
            raise OperationFailed(reply.BAD_REQUEST, str(err)) from None
        return {"sdp": answer.sdp, "type": answer.type}

    @app.get("/api/legend", response_model=Legend, tags=["video"])
    def legend() -> dict[str, Any]:
        """What the video's colours mean: twins by activity, places by kind."""
        return {
            "activities": _swatches(ACTIVITY_NAMES, PALETTE),
            "places": _swatches(PLACE_KINDS, PLACE_RGB),
        }

    @app.get("/api/viewers", response_model=list[Viewer], tags=["video"])
    async def viewers() -> list[dict[str, Any]]:  # async: on the loop that owns the peers
        """The video viewers connected now: connection state, frames sent, camera, selection."""
        return hub.viewers()

    if WEB_DIR.is_dir():  # mounted last: the /api routes and /docs match first
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def _swatches(names: Sequence[str], rgb: np.ndarray) -> list[dict[str, str]]:
    """``{"name", "rgb": "#rrggbb"}`` of each name, coloured by the same row of ``rgb (K, 3)``."""
    codes = np.rint(np.asarray(rgb[: len(names)]) * 255).astype(int)
    return [
        {"name": name, "rgb": "#" + "".join(f"{c:02x}" for c in code)}
        for name, code in zip(names, codes, strict=True)
    ]


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).ravel()]


def _roster_and_crowd(router: RouterClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """``roster`` and ``snapshot`` answered at the same tick when possible (a spawn or despawn
    between them would make the roster and the crowd disagree)."""
    for _ in range(CONSISTENT_TRIES):
        roster, crowd = router.exchange([("roster", {}), ("snapshot", {})])
        if roster.tick == crowd.tick:
            break
    return _result(roster), _result(crowd)


def _join_crowd(ids: np.ndarray, crowd: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Activity codes ``(N,) int64`` (-1: not on the crowd stream yet) and positions ``(N, 2)
    float64`` of the twins ``ids`` (ascending), from a ``snapshot``'s crowd payloads.

    A twin that just changed cells can be in two cells' states; its latest record wins.
    """
    decoder = CrowdDecoder()
    states: dict[tuple[int, int], CrowdState] = {}
    for payload in crowd["crowd"]:
        state = decoder.apply(payload)
        states[state.cell] = state
    codes = np.full(ids.size, -1, np.int64)
    pos_m = np.full((ids.size, 2), math.nan)
    latest = merge_latest(states.values())
    if latest["ids"].size == 0:
        return codes, pos_m
    known = latest["ids"]
    found = np.minimum(np.searchsorted(known, ids), known.size - 1)
    hit = known[found] == ids
    codes[hit] = latest["activity"][found[hit]]
    pos_m[hit] = latest["pos_m"][found[hit]]
    return codes, pos_m
