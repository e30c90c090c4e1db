"""The HTTP REST API of ``twin serve``: JSON for tools and browsers, OpenAPI docs at ``/docs``.

Pattern: a gateway that is a client of the ROUTER (the request side of Clone, ``docs/protocol.md``
sections 6.6, 6.7 and 7). The API never touches the world: each REST call becomes one request
(two for the twin list, joined as any Clone client joins: ``net.wire.clone.Replica``) on the
gateway's one ``AsyncCloneClient`` (``net.wire.client``), whose DEALER socket carries every call
at once, matched by id; the simulation thread answers between ticks (``net.requests``). So every
answer is consistent with one tick, every mutation happens between ticks, and bad input changes
nothing, exactly as over ZeroMQ. The video view (``net.webrtc``) follows the crowd on the same
client.

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
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import numpy as np
import zmq
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.components.town import PLACE_KINDS
from synthtwin.net.render.assets import CrowdAssets
from synthtwin.net.render.colour import PALETTE, PLACE_RGB
from synthtwin.net.webrtc import BadOffer, WebRtcHub
from synthtwin.net.wire import reply
from synthtwin.net.wire.client import AsyncCloneClient
from synthtwin.net.wire.clone import Crowd, Replica, join_calls
from synthtwin.net.wire.dealer import (
    AsyncRequestClient,
    ClientClosed,
    RequestError,
    RequestTimeout,
    result_of,
)

__all__ = ["DEFAULT_TIMEOUT_S", "WEB_DIR", "create_app"]

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
BAD_INPUT = 422
BAD_OFFER = 400


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
        context: ZeroMQ context for the client's sockets (None: the process's shared instance).

    The app's ``state.clone`` is its ``AsyncCloneClient`` (the REST calls use its ``requests``;
    the video view joins it on the first viewer, for the crowd of every cell) and
    ``state.webrtc`` its ``WebRtcHub`` (the video viewers), both closed when the app shuts down.
    """
    clone = AsyncCloneClient(
        pub_endpoint, router_endpoint, events=False, cell_vitals=False, timeout_s=timeout_s,
        context=context,
    )  # fmt: skip
    requests = clone.requests
    hub = WebRtcHub(clone, assets)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.close()
        await clone.close()

    app = FastAPI(
        title="SynthTwin",
        summary="Synthetic human digital twins in a realtime simulation",
        description="Every call is answered by the simulation between two ticks "
        '(docs/protocol.md section 7); errors are `{"detail": message}`.',
        version="1",
        lifespan=lifespan,
    )
    app.state.clone = clone
    app.state.webrtc = hub

    @app.exception_handler(RequestError)
    async def operation_failed(_: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"detail": err.message}, STATUS_OF_CODE.get(err.code, 500))

    @app.exception_handler(RequestTimeout)
    async def unanswered(_: Request, err: RequestTimeout) -> JSONResponse:
        detail = f"the simulation did not answer '{err.op}' within {err.timeout_s:g} s"
        return JSONResponse({"detail": detail}, UNAVAILABLE)

    @app.exception_handler(ClientClosed)
    async def stopped(_: Request, err: ClientClosed) -> JSONResponse:
        return JSONResponse({"detail": "the simulation has stopped"}, UNAVAILABLE)

    @app.get("/api/twins", response_model=TwinPage, responses=_errors(422), tags=["twins"])
    async def list_twins(
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
        roster, crowd = await _roster_and_crowd(requests)
        names = [name.lower() for name in roster["activities"]]
        ids = np.asarray(roster["ids"], dtype=np.int64)
        cells = np.asarray(roster["cells"]).reshape(-1, 2)
        codes, pos_m = _join_crowd(ids, crowd)
        keep = np.ones(ids.size, bool)
        if activity is not None:
            if activity.lower() not in names:
                message = f"activity '{activity}' is not one of {', '.join(names)}"
                raise HTTPException(BAD_INPUT, message)
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
    async def twin(twin_id: TwinId) -> dict[str, Any]:
        """One twin: identity and profile, live vitals, today's aggregates, current activity."""
        details = await requests.call("twin", id=twin_id)
        code = int(details["activity"])
        details["activity_name"] = ACTIVITY_NAMES[code] if code < len(ACTIVITY_NAMES) else str(code)
        return details

    @app.post("/api/twins/spawn", response_model=Spawned, responses=_errors(422),
              tags=["twins"])  # fmt: skip
    async def spawn(body: SpawnRequest) -> dict[str, Any]:
        """Add synthetic twins; they appear at the next tick."""
        args: dict[str, Any] = {"count": body.count}
        if body.seed is not None:
            args["seed"] = body.seed
        return {"ids": _ints((await requests.call("spawn", **args))["ids"])}

    @app.post("/api/twins/despawn", response_model=Removed, responses=_errors(404, 422),
              tags=["twins"])  # fmt: skip
    async def despawn(body: DespawnRequest) -> dict[str, Any]:
        """Remove twins; if any id names no twin, nothing is removed (404 names the first)."""
        return {"removed": _ints((await requests.call("despawn", ids=body.ids))["removed"])}

    @app.delete("/api/twins/{twin_id}", response_model=Removed, responses=_errors(404),
                tags=["twins"])  # fmt: skip
    async def despawn_one(twin_id: TwinId) -> dict[str, Any]:
        """Remove one twin."""
        return {"removed": _ints((await requests.call("despawn", ids=[twin_id]))["removed"])}

    @app.get("/api/stats", response_model=Stats, responses=_errors(), tags=["simulation"])
    async def stats() -> dict[str, Any]:
        """The simulation loop: twins, tick, rates, time scale, pause, per-system timings."""
        return await requests.call("stats")

    @app.put("/api/time-scale", response_model=TimeScale, responses=_errors(422),
             tags=["simulation"])  # fmt: skip
    async def time_scale(body: TimeScaleRequest) -> dict[str, Any]:
        """Set simulated seconds per wall-clock second."""
        return await requests.call("time_scale", scale=float(body.scale))

    @app.post("/api/pause", response_model=PauseState, responses=_errors(), tags=["simulation"])
    async def pause() -> dict[str, Any]:
        """Stop simulated time (idempotent); requests are still answered."""
        return await requests.call("pause")

    @app.post("/api/resume", response_model=PauseState, responses=_errors(),
              tags=["simulation"])  # fmt: skip
    async def resume() -> dict[str, Any]:
        """Let simulated time run again (idempotent)."""
        return await requests.call("resume")

    @app.post("/api/webrtc/offer", response_model=SessionDescription, responses=_errors(400))
    async def webrtc_offer(body: SessionDescription) -> dict[str, Any]:
        """Start a video view: a WebRTC offer (with a data channel) in, the answer out."""
        if body.type != "offer":
            raise HTTPException(BAD_OFFER, "type must be 'offer'")
        try:
            answer = await hub.answer(body.sdp, body.type)
        except BadOffer as err:
            raise HTTPException(BAD_OFFER, str(err)) from None
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


async def _roster_and_crowd(requests: AsyncRequestClient) -> tuple[dict[str, Any], Crowd]:
    """The ``roster`` result and the crowd of a ``snapshot``, answered at the same tick when
    possible (a spawn or despawn between them would make the roster and the crowd disagree);
    joined as every Clone client joins (``Replica.join``)."""
    for _ in range(CONSISTENT_TRIES):
        roster, snapshot = await requests.exchange(join_calls(None))
        if roster.tick == snapshot.tick:
            break
    replica = Replica()
    replica.join(roster, snapshot)
    return result_of(roster), replica.crowd()


def _join_crowd(ids: np.ndarray, crowd: Crowd) -> tuple[np.ndarray, np.ndarray]:
    """Activity codes ``(N,) int64`` (-1: not on the crowd stream yet) and positions ``(N, 2)
    float64`` of the twins ``ids`` (ascending) in ``crowd``."""
    codes = np.full(ids.size, -1, np.int64)
    pos_m = np.full((ids.size, 2), math.nan)
    rows = crowd.rows(ids)
    hit = rows >= 0
    codes[hit] = crowd.activity[rows[hit]]
    pos_m[hit] = crowd.pos_m[rows[hit]]
    return codes, pos_m
