"""The HTTP REST API of ``twin serve``: JSON for tools and browsers, OpenAPI docs at ``/docs``.

Pattern: a gateway that is a client of the ROUTER (the request side of Clone, ``docs/protocol.md``
sections 6.6, 6.7 and 7). The API never touches the world: each REST call becomes one request
(two for the twin list, joined as any Clone client joins: ``net.wire.clone.Replica``) on a
``net.wire.dealer.AsyncRequestClient`` that carries the caller's token (``CallerRequests``: one
client, one DEALER socket, per token, each carrying every call of that token at once, matched by
id), so the simulation checks the caller's role too (``net.requests.OP_ROLES``); the simulation
thread answers between ticks (``net.requests``). So every answer is consistent with one tick,
every mutation happens between ticks, and bad input changes nothing, exactly as over ZeroMQ. The
video view (``net.webrtc``) follows the crowd on the gateway's ``AsyncCloneClient``.

=========================  =================================  ========  =========================
REST call                  body                               role      ROUTER operation
=========================  =================================  ========  =========================
GET    /api/twins          ``?offset&limit&q&activity``       viewer    ``roster`` + ``snapshot``
GET    /api/twins/{id}                                        analyst   ``twin``
GET    /api/twins/{id}/history ``?from&to&resolution``         analyst   ``history`` (deferred)
GET    /api/twins/{id}/timeline ``?date``                     analyst   ``history`` (deferred)
GET    /api/twins/{id}/baselines ``?from&to``                  analyst   ``history`` (deferred)
GET    /api/alerts ``?from&to&twin``                          analyst   ``history`` (deferred)
POST   /api/alerts/{id}/ack                                   analyst   ``history`` (deferred)
GET    /api/population/daily ``?from&to&group_by``             analyst   ``history`` (deferred)
POST   /api/twins/{id}/chat ``{"message", "conversation_id"}`` analyst ``chat``
POST   /api/twins/spawn    ``{"count": n, "seed": s}``        operator  ``spawn``
POST   /api/twins/despawn  ``{"ids": [...]}``                 operator  ``despawn``
DELETE /api/twins/{id}                                        operator  ``despawn`` of one twin
POST   /api/twins/{id}/scenarios ``{"kind", "days", ...}``     operator  ``scenario`` start
GET    /api/twins/{id}/scenarios                              operator  ``scenario`` list
DELETE /api/twins/{id}/scenarios/{sid}                        operator  ``scenario`` stop
POST   /api/webrtc/offer   ``{"sdp": ..., "type": "offer"}``  viewer    (video, ``net.webrtc``)
GET    /api/viewers                                           operator  (video, ``net.webrtc``)
GET    /api/legend                                            viewer    (video colours)
PUT    /api/time-scale     ``{"scale": x}``                   operator  ``time_scale``
POST   /api/pause                                             operator  ``pause``
POST   /api/resume                                            operator  ``resume``
GET    /api/stats                                             viewer    ``stats``
POST   /api/login          ``{"token": "st_..."}``            (any)     sets the login cookie
POST   /api/logout                                            (any)     clears it
GET    /api/session                                           viewer    the caller's role
=========================  =================================  ========  =========================

Roles, tokens, the login cookie and the HTTP defences (Host and Origin allow-lists, body limit,
rate limit, security headers) are ``net.http_security``'s; with no token file every caller is
admin. The page (``/``), ``/docs`` and ``/openapi.json`` need no token.

Errors are ``{"detail": message}``: 401 without a valid token, 403 for too low a role; the
server's message for a failed operation: ``unknown_twin`` is 404, ``out_of_range`` 422,
``bad_request`` 400, ``unauthorized`` 401, ``forbidden`` 403, ``rate_limited`` 429 (with
``Retry-After``), ``unknown_op`` and ``internal`` 500; a simulation that does not answer within
``timeout_s`` 503. A body or query that fails validation is FastAPI's own 422 (non-finite numbers
shown as null) and never reaches the simulation; a bad offer is 400, a full video view 503.

The browser page in ``clients/web/`` (plain files, no build step) is served at ``/``.

``create_app`` builds the app; ``net.gateway`` serves it with uvicorn in a process of its own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import pathlib
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import zmq
from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.components.scenario import DRUGS, KINDS, MAX_DAYS, SEVERITIES
from synthtwin.components.town import PLACE_KINDS
from synthtwin.net.auth import AuthError, Role
from synthtwin.net.http_security import (
    COOKIE,
    COOKIE_MAX_AGE_S,
    Access,
    AnalystCaller,
    Caller,
    HttpSecurity,
    OperatorCaller,
    OperatorChange,
    StateChange,
    ViewerCaller,
    ViewerChange,
    http_error,
    middleware,
)
from synthtwin.net.render.assets import CrowdAssets
from synthtwin.net.render.colour import PALETTE, PLACE_RGB
from synthtwin.net.webrtc import BadOffer, TooManyViewers, WebRtcHub
from synthtwin.net.websocket import WsRelay, add_websocket_route
from synthtwin.net.wire import reply
from synthtwin.net.wire.chat import CONVERSATION_ID, ENGINES, MAX_MESSAGE_CHARS, SOURCES
from synthtwin.net.wire.client import AsyncCloneClient
from synthtwin.net.wire.clone import Crowd, Replica, join_calls
from synthtwin.net.wire.curve import CurveKeys
from synthtwin.net.wire.dealer import (
    AsyncRequestClient,
    ClientClosed,
    RequestError,
    RequestTimeout,
    result_of,
)

__all__ = ["DEFAULT_TIMEOUT_S", "WEB_DIR", "CallerRequests", "create_app"]

DEFAULT_TIMEOUT_S = 5.0
"""How long a REST call waits for the simulation's reply, wall seconds."""
MAX_PAGE = 500
"""Most twins one ``GET /api/twins`` returns."""
MAX_TWIN_ID = 2**32 - 1
"""Twin ids are uint32."""
MAX_OFFSET = 2**32
"""No page starts beyond this (there are fewer twins than ids)."""
INT64 = (-(2**63), 2**63 - 1)
"""The integers the wire carries (msgpack); the simulation checks each argument's own range."""
MAX_TOKEN_CHARS = 200
VIEW_FULL_RETRY_S = 10
"""``Retry-After`` of an offer refused because the video view is full, seconds."""
MAX_CALLER_CLIENTS = 256
"""Request clients (one per caller token) kept at once; the least recently used goes first."""
CONSISTENT_TRIES = 3
"""Attempts to get ``roster`` and ``snapshot`` answered at the same tick before using the last."""
WEB_DIR = pathlib.Path(__file__).resolve().parents[1] / "clients" / "web"
"""The browser page (``clients/web/``), served at ``/`` next to the API."""
JS_DIR = WEB_DIR.parent / "js" / "src"
"""The JavaScript client's modules (``clients/js/src/``), served at ``/js/``."""

STATUS_OF_CODE = {
    reply.BAD_REQUEST: 400,
    reply.UNAUTHORIZED: 401,
    reply.FORBIDDEN: 403,
    reply.UNKNOWN_TWIN: 404,
    reply.OUT_OF_RANGE: 422,
    reply.RATE_LIMITED: 429,
    reply.UNKNOWN_OP: 500,
    reply.INTERNAL: 500,
}
"""HTTP status of each reply error code (``docs/protocol.md`` section 6.7)."""
UNAVAILABLE = 503
BAD_INPUT = 422
BAD_OFFER = 400
SWAGGER_UI = "/vendor/swagger-ui"
"""Where the page's vendored Swagger UI (``clients/web/vendor/swagger-ui/``) is served: ``/docs``
works offline."""


# -- the models (what /docs shows) -----------------------------------------------------------------


class _Body(BaseModel):
    """A request body: strict JSON types (no "3" for 3, no true for 1), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid")


class _Result(BaseModel):
    """A result mirrored from a protocol map: fields added to the protocol pass through."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    detail: str = Field(description="the server's message, e.g. `twin 9 does not exist`")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: `body`, `query` or `path`, then the field")
    msg: str
    type: str
    input: Any = Field(None, description="what was sent (NaN and infinities as null)")
    ctx: dict[str, Any] | None = None


class InvalidInput(BaseModel):
    detail: str | list[ValidationIssue] = Field(
        description="the simulation's message (an argument out of its range), or each part of "
        "the request that failed validation"
    )


class TwinItem(_Result):
    id: int = Field(description="twin id (uint32)")
    cell: tuple[int, int] = Field(description="[ix, iy], the 2 km cell whose crowd carries it")
    activity: str | None = Field(
        description="activity name, as last published on the crowd stream; null for a twin "
        "spawned since its cell's last crowd update"
    )
    pos_m: tuple[float, float] | None = Field(
        description="x east, y north, m: the last published record dead-reckoned to the "
        "snapshot's time (protocol 6.1); null as for activity"
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


class ChatMessage(_Body):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                         description="what you say to the twin")  # fmt: skip
    conversation_id: str | None = Field(
        None, pattern=f"^{CONVERSATION_ID.pattern}$",
        description="continue this conversation (from a previous answer); null starts one",
    )  # fmt: skip


class ChatFact(BaseModel):
    name: str = Field(description="e.g. `hr_bpm`, `sleep_hours`")
    value: bool | int | float | str = Field(description="as the reply says it (rounded)")
    unit: str
    source: Literal[SOURCES] = Field(description="where the value comes from")
    time: str | None = Field(description="simulated local time it holds at, ISO 8601")


class ChatAnswer(_Result):
    reply: str = Field(description="the twin's answer, in the first person")
    conversation_id: str
    facts: list[ChatFact] = Field(description="every number in `reply` is one of these values")
    intent: str = Field(description="what the message was understood to ask")
    engine: Literal[ENGINES] = Field(description="who wrote the reply")
    fallback: str | None = Field(None, description="why a language model's answer was not used")


class SpawnRequest(_Body):
    count: int = Field(ge=INT64[0], le=INT64[1], description="twins to add, 1..10000")
    seed: int | None = Field(None, ge=0, lt=2**63, description="default: the server's next seed")


class Spawned(_Result):
    ids: list[int] = Field(description="the new twins, ascending")


class DespawnRequest(_Body):
    ids: list[Annotated[int, Field(ge=0, le=MAX_TWIN_ID)]] = Field(description="1..10000 ids")


class Removed(_Result):
    removed: list[int] = Field(description="the removed twins, ascending")


class ScenarioRequest(_Body):
    """A scenario to start on a twin (``docs/protocol.md``, ``scenario``); the simulation checks
    that its kind's arguments are given (``drug`` for a medication, ``factor`` for exercise,
    ``hours`` for a short night)."""

    kind: Literal[KINDS]
    days: float = Field(gt=0, le=MAX_DAYS, allow_inf_nan=False, description="how long it lasts")
    start: str | None = Field(None, max_length=32, description="simulated local time "
                              "YYYY-MM-DDTHH:MM:SS, now or later; default: now")  # fmt: skip
    severity: Literal[SEVERITIES] | None = Field(None, description="illness; default moderate")
    drug: Literal[DRUGS] | None = Field(None, description="medication")
    classes: int | None = Field(None, ge=1, le=3, description="antihypertensive drug classes")
    factor: float | None = Field(None, ge=0, le=4, allow_inf_nan=False,
                                 description="exercise: the habit's factor")  # fmt: skip
    hours: float | None = Field(None, ge=1, le=8, allow_inf_nan=False,
                                description="short night: hours of sleep allowed")  # fmt: skip


class ScenarioInfo(_Result):
    id: int
    twin: int
    kind: str
    args: dict[str, Any] = Field(description="the kind's arguments, defaults filled in")
    start: str = Field(description="simulated local time")
    end: str = Field(description="simulated local time (the stop, if stopped)")
    stopped: bool
    state: Literal["planned", "active", "ended"]


class ScenarioResult(_Result):
    scenario: ScenarioInfo


class ScenarioList(_Result):
    scenarios: list[ScenarioInfo] = Field(description="by id, ended ones too")


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


class LoginRequest(_Body):
    token: str = Field(max_length=MAX_TOKEN_CHARS, description="an access token, `st_...`")


class Session(_Result):
    role: Literal["viewer", "analyst", "operator", "admin"] | None = Field(
        description="the caller's role; null once logged out"
    )
    open: bool = Field(description="no token file: every caller is admin")


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


def _errors(*statuses: int, sim: bool = True) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route (503 too when it asks the simulation)."""
    codes = (*statuses, UNAVAILABLE) if sim else statuses
    return {status: {"model": InvalidInput if status == BAD_INPUT else ErrorDetail}
            for status in codes}  # fmt: skip


EVERY_ROUTE_ERRORS = _errors(400, 413, 429, sim=False)
"""Answers of ``net.http_security``'s layers that any route may give (Host, body, rate)."""
ROLE_ERRORS = _errors(401, 403, sim=False)
"""Answers of a route that needs a role."""
CHANGE_ERRORS = _errors(401, 403, 415, sim=False)
"""Answers of a state-changing route that needs a role."""

TwinId = Annotated[int, Path(ge=0, le=MAX_TWIN_ID, description="twin id")]


GATEWAY_PACE_SHARE = 0.9
"""The share of the ROUTER's per-peer rate and burst that each gateway client sends at most (a
margin for the two clocks and the time in flight)."""


class CallerRequests:
    """One ``AsyncRequestClient`` per caller token, so that each request carries its caller's
    token to the ROUTER (a client sends one token with all of its requests).

    Only tokens the gateway has checked reach it (``Access``), and with open access every call
    goes without one: there are as many clients as tokens in use, at most ``MAX_CALLER_CLIENTS``
    (the least recently used is closed; a call still waiting on it answers 503).

    Each client paces itself at ``GATEWAY_PACE_SHARE`` of the ROUTER's per-peer rate and burst:
    the many callers behind one token then get ``rate_limited`` (429) from the gateway itself,
    and the server never refuses the gateway (a refused peer's requests in flight are dropped,
    and every caller behind it would wait out its timeout).

    Args:
        endpoint, timeout_s, context: as ``AsyncRequestClient``.
        keys: the gateway's CURVE keys when the ROUTER is a CURVE server, else None.
        rate_per_s, burst: the ROUTER's ``router_rate_per_s`` and ``router_burst``.
    """

    def __init__(
        self,
        endpoint: str,
        timeout_s: float,
        context: zmq.Context | None,
        keys: CurveKeys | None,
        rate_per_s: float,
        burst: int,
    ) -> None:
        self.endpoint, self.timeout_s, self.context, self.keys = endpoint, timeout_s, context, keys
        self.pace = (GATEWAY_PACE_SHARE * rate_per_s, max(1.0, GATEWAY_PACE_SHARE * burst))
        self._clients: OrderedDict[str | None, AsyncRequestClient] = OrderedDict()
        self._closing: set[asyncio.Task] = set()

    def of(self, caller: Caller) -> AsyncRequestClient:
        """The client that sends ``caller``'s token."""
        client = self._clients.pop(caller.token, None) or AsyncRequestClient(
            self.endpoint, self.timeout_s, self.context, caller.token, self.keys, self.pace
        )
        self._clients[caller.token] = client
        if len(self._clients) > MAX_CALLER_CLIENTS:
            _, oldest = self._clients.popitem(last=False)
            task = asyncio.ensure_future(oldest.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return client

    def __len__(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def create_app(
    router_endpoint: str,
    pub_endpoint: str,
    assets: CrowdAssets,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    context: zmq.Context | None = None,
    security: HttpSecurity | None = None,
    keys: CurveKeys | None = None,
    health_endpoint: str | None = None,
    curve: bool = False,
) -> FastAPI:
    """The REST API as a FastAPI app that forwards every call to ``router_endpoint``.

    Args:
        router_endpoint: the simulation's ROUTER, e.g. ``tcp://127.0.0.1:5557``.
        pub_endpoint: the simulation's PUB, which the WebRTC video view subscribes to for the
            crowd and the selected twins' vitals.
        assets: the body and clips the video view draws with.
        timeout_s: how long a call waits for the simulation before answering 503, wall seconds.
        context: ZeroMQ context for the client's sockets (None: the process's shared instance).
        security: tokens, allow-lists and limits (None: the defaults, open access, loopback
            names on any port).
        keys, health_endpoint, curve: the gateway's CURVE keys, the health PUB and whether the
            main sockets are CURVE servers, for a server with ZeroMQ access control
            (``net.gateway.ZmqAccess``; ``AsyncCloneClient``'s arguments of those names).

    The app's ``state.clone`` is its ``AsyncCloneClient`` (the video view joins it on the first
    viewer, for the crowd of every cell), ``state.requests`` its ``CallerRequests`` (the REST
    calls), ``state.webrtc`` its ``WebRtcHub`` (the video viewers), all closed when the app shuts
    down, and ``state.access`` its ``Access`` (the token check).
    """
    security = security or HttpSecurity()
    clone = AsyncCloneClient(
        pub_endpoint, router_endpoint, events=False, cell_vitals=False, timeout_s=timeout_s,
        context=context, keys=keys, health_endpoint=health_endpoint, curve=curve,
    )  # fmt: skip
    requests = CallerRequests(router_endpoint, timeout_s, context, keys if curve else None,
                              security.router_rate_per_s, security.router_burst)  # fmt: skip
    access = Access(security.tokens_file)
    hub = WebRtcHub(clone, assets, max_viewers=security.max_viewers, check=access.check)
    relay = WsRelay(pub_endpoint, health_endpoint, keys, curve, context)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await relay.close()
        await hub.close()
        await requests.close()
        await clone.close()

    app = FastAPI(
        title="SynthTwin",
        summary="Synthetic human digital twins in a realtime simulation",
        description="Every call is answered by the simulation between two ticks "
        '(docs/protocol.md section 7); errors are `{"detail": message}`. Calls need a token '
        "(`Authorization: Bearer st_...`, or the cookie of `POST /api/login`) unless the server "
        "has no token file.",
        version="1",
        lifespan=lifespan,
        middleware=middleware(security, access),
        responses=EVERY_ROUTE_ERRORS,
        docs_url=None,
        redoc_url=None,
    )
    app.state.clone, app.state.webrtc, app.state.access = clone, hub, access
    app.state.requests, app.state.relay = requests, relay
    add_websocket_route(app, relay, access, requests, security)
    _handle_errors(app)
    _twin_routes(app, requests)
    _scenario_routes(app, requests)
    _history_routes(app, requests)
    _simulation_routes(app, requests)
    _video_routes(app, hub)
    _session_routes(app, access, security.tls)
    _docs_route(app)
    _page(app)
    return app


def _handle_errors(app: FastAPI) -> None:
    """Failed operations, silent simulations and bad input as ``{"detail": ...}`` answers."""

    @app.exception_handler(RequestError)
    async def operation_failed(_: Request, err: RequestError) -> JSONResponse:
        status = STATUS_OF_CODE.get(err.code, 500)
        retry = None
        if err.retry_after_ms is not None:
            retry = {"Retry-After": str(max(1, math.ceil(err.retry_after_ms / 1000)))}
        return JSONResponse({"detail": err.message}, status, headers=retry)

    @app.exception_handler(RequestTimeout)
    async def unanswered(_: Request, err: RequestTimeout) -> JSONResponse:
        detail = f"the simulation did not answer '{err.op}' within {err.timeout_s:g} s"
        return JSONResponse({"detail": detail}, UNAVAILABLE)

    @app.exception_handler(ClientClosed)
    async def stopped(_: Request, err: ClientClosed) -> JSONResponse:
        return JSONResponse({"detail": "the simulation has stopped"}, UNAVAILABLE)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _finite(jsonable_encoder(err.errors()))}, BAD_INPUT)


def _finite(value: Any) -> Any:
    """``value`` (decoded JSON) with NaN and infinities as None: JSON has no such numbers, and a
    validation error echoes the input it refused (``1e309`` reads as infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _twin_routes(app: FastAPI, requests: CallerRequests) -> None:
    """The twins: list (viewer), details (analyst), spawn and despawn (operator)."""

    @app.get("/api/twins", response_model=TwinPage, responses={**_errors(422), **ROLE_ERRORS},
             tags=["twins"])  # fmt: skip
    async def list_twins(
        caller: ViewerCaller,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
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
            str | None,
            Query(max_length=64, description="only twins doing this activity, e.g. `sleep`"),
        ] = None,
    ) -> dict[str, Any]:
        """List and search the twins, ids ascending, a page at a time (no health data)."""
        roster, crowd, t_s = await _roster_and_crowd(requests.of(caller))
        return _page_of(roster, (crowd, t_s), offset, limit, q, activity)

    @app.get("/api/twins/{twin_id}", response_model=TwinDetail,
             responses={**_errors(404), **ROLE_ERRORS}, tags=["twins"])  # fmt: skip
    async def twin(twin_id: TwinId, caller: AnalystCaller) -> dict[str, Any]:
        """One twin: identity and profile, live vitals, today's aggregates, current activity."""
        details = await requests.of(caller).call("twin", id=twin_id)
        code = int(details["activity"])
        details["activity_name"] = ACTIVITY_NAMES[code] if code < len(ACTIVITY_NAMES) else str(code)
        return details

    @app.post("/api/twins/{twin_id}/chat", response_model=ChatAnswer, dependencies=[StateChange],
              responses={**_errors(404, 422, 429), **CHANGE_ERRORS}, tags=["twins"])  # fmt: skip
    async def chat(twin_id: TwinId, body: ChatMessage, caller: AnalystCaller) -> dict[str, Any]:
        """Talk to a twin: it answers in the first person from its live state, its day so far,
        its profile and its timetable (the ROUTER's ``chat``, composed off the tick)."""
        cid = body.conversation_id
        return await requests.of(caller).call(
            "chat", id=twin_id, message=body.message, conversation_id=cid
        )

    @app.post("/api/twins/spawn", response_model=Spawned,
              responses={**_errors(422), **CHANGE_ERRORS}, tags=["twins"])  # fmt: skip
    async def spawn(body: SpawnRequest, caller: OperatorChange) -> dict[str, Any]:
        """Add synthetic twins; they appear at the next tick."""
        args: dict[str, Any] = {"count": body.count}
        if body.seed is not None:
            args["seed"] = body.seed
        return {"ids": _ints((await requests.of(caller).call("spawn", **args))["ids"])}

    @app.post("/api/twins/despawn", response_model=Removed,
              responses={**_errors(404, 422), **CHANGE_ERRORS}, tags=["twins"])  # fmt: skip
    async def despawn(body: DespawnRequest, caller: OperatorChange) -> dict[str, Any]:
        """Remove twins; if any id names no twin, nothing is removed (404 names the first)."""
        removed = await requests.of(caller).call("despawn", ids=body.ids)
        return {"removed": _ints(removed["removed"])}

    @app.delete("/api/twins/{twin_id}", response_model=Removed,
                responses={**_errors(404), **CHANGE_ERRORS}, tags=["twins"])  # fmt: skip
    async def despawn_one(twin_id: TwinId, caller: OperatorChange) -> dict[str, Any]:
        """Remove one twin."""
        removed = await requests.of(caller).call("despawn", ids=[twin_id])
        return {"removed": _ints(removed["removed"])}


def _scenario_routes(app: FastAPI, requests: CallerRequests) -> None:
    """A twin's what-if scenarios: start, list, stop (operator; the ROUTER's ``scenario``)."""

    @app.post("/api/twins/{twin_id}/scenarios", response_model=ScenarioResult,
              responses={**_errors(400, 404, 422), **CHANGE_ERRORS},
              tags=["scenarios"])  # fmt: skip
    async def start_scenario(
        twin_id: TwinId, body: ScenarioRequest, caller: OperatorChange
    ) -> dict[str, Any]:
        """Start an illness, a medication, an exercise habit change or short nights on a twin,
        now or at a later simulated time; its physiology and behaviour respond."""
        args = {name: value for name, value in body.model_dump().items() if value is not None}
        return await requests.of(caller).call("scenario", action="start", twin=twin_id, **args)

    @app.get("/api/twins/{twin_id}/scenarios", response_model=ScenarioList,
             responses={**_errors(422), **ROLE_ERRORS}, tags=["scenarios"])  # fmt: skip
    async def list_scenarios(twin_id: TwinId, caller: OperatorCaller) -> dict[str, Any]:
        """The twin's scenarios, planned, active and ended."""
        return await requests.of(caller).call("scenario", action="list", twin=twin_id)

    @app.delete("/api/twins/{twin_id}/scenarios/{scenario_id}", response_model=ScenarioResult,
                responses={**_errors(422), **CHANGE_ERRORS}, tags=["scenarios"])  # fmt: skip
    async def stop_scenario(
        twin_id: TwinId,
        scenario_id: Annotated[int, Path(ge=1, le=MAX_TWIN_ID, description="scenario id")],
        caller: OperatorChange,
    ) -> dict[str, Any]:
        """Stop a scenario of the twin now (one already over is left as it was)."""
        return await requests.of(caller).call(
            "scenario", action="stop", id=scenario_id, twin=twin_id
        )


def _simulation_routes(app: FastAPI, requests: CallerRequests) -> None:
    """The loop: stats (viewer); time scale, pause and resume (operator)."""

    @app.get("/api/stats", response_model=Stats, responses={**_errors(), **ROLE_ERRORS},
             tags=["simulation"])  # fmt: skip
    async def stats(caller: ViewerCaller) -> dict[str, Any]:
        """The simulation loop: twins, tick, rates, time scale, pause, per-system timings."""
        return await requests.of(caller).call("stats")

    @app.put("/api/time-scale", response_model=TimeScale,
             responses={**_errors(422), **CHANGE_ERRORS}, tags=["simulation"])  # fmt: skip
    async def time_scale(body: TimeScaleRequest, caller: OperatorChange) -> dict[str, Any]:
        """Set simulated seconds per wall-clock second."""
        return await requests.of(caller).call("time_scale", scale=float(body.scale))

    @app.post("/api/pause", response_model=PauseState,
              responses={**_errors(), **CHANGE_ERRORS}, tags=["simulation"])  # fmt: skip
    async def pause(caller: OperatorChange) -> dict[str, Any]:
        """Stop simulated time (idempotent); requests are still answered."""
        return await requests.of(caller).call("pause")

    @app.post("/api/resume", response_model=PauseState,
              responses={**_errors(), **CHANGE_ERRORS}, tags=["simulation"])  # fmt: skip
    async def resume(caller: OperatorChange) -> dict[str, Any]:
        """Let simulated time run again (idempotent)."""
        return await requests.of(caller).call("resume")


def _video_routes(app: FastAPI, hub: WebRtcHub) -> None:
    """The video view: signalling and legend (viewer), the viewer list (operator)."""

    @app.post("/api/webrtc/offer", response_model=SessionDescription,
              responses={**_errors(400), **CHANGE_ERRORS}, tags=["video"])  # fmt: skip
    async def webrtc_offer(body: SessionDescription, caller: ViewerChange) -> dict[str, Any]:
        """Start a video view: a WebRTC offer (with a data channel) in, the answer out. The data
        channel carries the selected twin's vitals to analysts only."""
        if body.type != "offer":
            raise HTTPException(BAD_OFFER, "type must be 'offer'")
        try:
            answer = await hub.answer(body.sdp, body.type, caller.token, caller.role)
        except BadOffer as err:
            raise HTTPException(BAD_OFFER, str(err)) from None
        except TooManyViewers as err:
            retry = {"Retry-After": str(VIEW_FULL_RETRY_S)}
            raise HTTPException(UNAVAILABLE, str(err), headers=retry) from None
        return {"sdp": answer.sdp, "type": answer.type}

    @app.get("/api/legend", response_model=Legend, responses=ROLE_ERRORS, tags=["video"])
    def legend(caller: ViewerCaller) -> dict[str, Any]:
        """What the video's colours mean: twins by activity, places by kind."""
        return {
            "activities": _swatches(ACTIVITY_NAMES, PALETTE),
            "places": _swatches(PLACE_KINDS, PLACE_RGB),
        }

    @app.get("/api/viewers", response_model=list[Viewer], responses=ROLE_ERRORS, tags=["video"])
    async def viewers(  # async: on the loop that owns the peers
        caller: OperatorCaller,
    ) -> list[dict[str, Any]]:
        """The video viewers connected now: connection state, frames sent, camera, selection."""
        return hub.viewers()


def _session_routes(app: FastAPI, access: Access, tls: bool) -> None:
    """The page's login: a token in, an ``HttpOnly`` cookie out (``Secure`` under ``tls``)."""

    @app.post("/api/login", response_model=Session, dependencies=[StateChange],
              responses=_errors(401, 415, sim=False), tags=["session"])  # fmt: skip
    def login(body: LoginRequest, response: Response) -> dict[str, Any]:
        """Check a token and keep it in the login cookie (none needed with open access)."""
        try:
            role = access.check(body.token, Role.VIEWER)
        except AuthError as err:
            raise http_error(err) from None
        if not access.open:
            response.set_cookie(COOKIE, body.token, max_age=COOKIE_MAX_AGE_S, path="/",
                                secure=tls, httponly=True, samesite="strict")  # fmt: skip
        return {"role": role.label, "open": access.open}

    @app.post("/api/logout", response_model=Session, dependencies=[StateChange],
              responses=_errors(415, sim=False), tags=["session"])  # fmt: skip
    def logout(response: Response) -> dict[str, Any]:
        """Forget the login cookie."""
        response.delete_cookie(COOKIE, path="/", secure=tls, httponly=True, samesite="strict")
        return {"role": None, "open": access.open}

    @app.get("/api/session", response_model=Session, responses=ROLE_ERRORS, tags=["session"])
    def session(caller: ViewerCaller) -> dict[str, Any]:
        """The caller's role (401 without a valid token: the page then shows its login form)."""
        return {"role": caller.role.label, "open": access.open}


def _docs_route(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the page's vendored copy (no CDN: it works offline), under a CSP
    of its own that allows its one inline script, by hash, and the styles it injects."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} - API docs",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url="data:,",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    html = page.body.decode()
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline
    )
    csp = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"content-security-policy": csp})


def _page(app: FastAPI) -> None:
    """Serve the browser page (``clients/web/``) for every path no route takes (the router's
    fallback, not a mount at ``/``: a wrong method on an API path stays that route's 405), and
    the JavaScript client's modules (``clients/js/src/``) at ``/js/`` for the page to import; an
    unknown ``/api/`` path is a 404 whatever its method."""
    files = StaticFiles(directory=WEB_DIR, html=True, check_dir=False)
    client = StaticFiles(directory=JS_DIR, check_dir=False)

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/js/") and JS_DIR.is_dir():  # the JavaScript client
            await client({**scope, "path": scope["path"][len("/js") :]}, receive, send)
            return
        if scope["path"].startswith("/api/") or not WEB_DIR.is_dir():
            raise HTTPException(404, "Not Found")
        await files(scope, receive, send)

    app.router.default = page


def _page_of(
    roster: dict[str, Any],
    crowd: tuple[Crowd, float],
    offset: int,
    limit: int,
    q: str | None,
    activity: str | None,
) -> dict[str, Any]:
    """The ``TwinPage`` of the twins in ``roster`` that match ``q`` and ``activity``; ``crowd``:
    the snapshot's crowd and its sim time, s."""
    names = [name.lower() for name in roster["activities"]]
    ids = np.asarray(roster["ids"], dtype=np.int64)
    cells = np.asarray(roster["cells"]).reshape(-1, 2)
    codes, pos_m = _join_crowd(ids, *crowd)
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


def _swatches(names: Sequence[str], rgb: np.ndarray) -> list[dict[str, str]]:
    """``{"name", "rgb": "#rrggbb"}`` of each name, coloured by the same row of ``rgb (K, 3)``."""
    codes = np.rint(np.asarray(rgb[: len(names)]) * 255).astype(int)
    return [
        {"name": name, "rgb": "#" + "".join(f"{c:02x}" for c in code)}
        for name, code in zip(names, codes, strict=True)
    ]


class History(_Result):
    twin_id: int
    resolution: Literal["minute", "hour", "day"]
    columns: dict[str, list[float | int | str | None]] = Field(
        description="one list per column, one value per row; `day` or `t` (simulated local "
        "time) first; null where a day had no value (a resting HR without awake rest)"
    )
    scenarios: dict[str, list[float | int | str | None]] = Field(
        description="the twin's what-if scenarios overlapping the range, by id: scenario_id, "
        "kind, args (JSON text), start, end (simulated local times), stopped (0 or 1)"
    )


class Timeline(_Result):
    twin_id: int
    date: str
    episodes: dict[str, list[float | int | str | None]] = Field(
        description="the day's activity episodes: start, end, activity (code), place"
    )
    vitals: dict[str, list[float | int | str | None]] = Field(description="the day's samples")


class Trend(BaseModel):
    slope_per_day: float | None = Field(description="least-squares slope, units per day")
    change: float | None = Field(description="the slope times the days it spans")
    days: int = Field(description="days with a value in the 28 days")
    direction: Literal["up", "down", "flat"]


class Baselines(_Result):
    twin_id: int
    columns: dict[str, list[float | int | str | None]] = Field(
        description="per day: each measure and its 7- and 28-day baselines (`<m>_7d`, `<m>_28d`: "
        "the mean of the days before it)"
    )
    trends: dict[str, Trend] = Field(description="each measure's trend over the last 28 days")


class Alerts(_Result):
    columns: dict[str, list[float | int | str | bool | None]] = Field(
        description="one row per alert: alert_id, twin_id, day, rule, value (the measure that "
        "fired it), acknowledged"
    )
    counts: dict[str, int] = Field(description="alerts per rule in the range")


class Acknowledged(_Result):
    alert_id: int
    acknowledged: bool


class PopulationDaily(_Result):
    group_by: Literal["age_band", "sex", "condition", "employment"]
    groups: list[str]
    columns: dict[str, list[float | int | str | None]] = Field(
        description="per day and group (an index into `groups`): twins, and each measure's mean"
    )


First = Annotated[date | None, Query(alias="from", description="first simulated day, YYYY-MM-DD")]
Last = Annotated[date | None, Query(alias="to", description="last simulated day, included")]
Day = Annotated[date | None, Query(alias="date", description="simulated day, YYYY-MM-DD")]


def _history_routes(app: FastAPI, requests: CallerRequests) -> None:
    """The health record (analyst): the ROUTER's ``history`` op, queried off the tick."""

    @app.get("/api/twins/{twin_id}/history", response_model=History,
             responses={**_errors(404, 422), **ROLE_ERRORS}, tags=["history"])  # fmt: skip
    async def history(
        twin_id: TwinId,
        caller: AnalystCaller,
        first: First = None,
        last: Last = None,
        resolution: Literal["minute", "hour", "day"] = "day",
    ) -> dict[str, Any]:
        """A twin's record: daily rows, or its vitals by hour or minute (at most 3660, 92 or 7
        days; by default the 30 days to today, or today)."""
        args = _dates(**{"from": first, "to": last})
        result = await requests.of(caller).call(
            "history", query="history", id=twin_id, resolution=resolution, **args
        )
        return {**result, "columns": _lists(result["columns"]),
                "scenarios": _lists(result["scenarios"])}  # fmt: skip

    @app.get("/api/twins/{twin_id}/timeline", response_model=Timeline,
             responses={**_errors(404, 422), **ROLE_ERRORS}, tags=["history"])  # fmt: skip
    async def timeline(twin_id: TwinId, caller: AnalystCaller, day: Day = None) -> dict[str, Any]:
        """A twin's day: its activity episodes and its vitals as sampled (default: today)."""
        args = _dates(date=day)
        result = await requests.of(caller).call("history", query="timeline", id=twin_id, **args)
        episodes, vitals = _lists(result["episodes"]), _lists(result["vitals"])
        return {**result, "episodes": episodes, "vitals": vitals}

    @app.get("/api/twins/{twin_id}/baselines", response_model=Baselines,
             responses={**_errors(404, 422), **ROLE_ERRORS}, tags=["history"])  # fmt: skip
    async def baselines(
        twin_id: TwinId, caller: AnalystCaller, first: First = None, last: Last = None
    ) -> dict[str, Any]:
        """A twin's rolling 7- and 28-day baselines of resting HR, sleep, steps and blood
        pressure, and their 28-day trends (default: the 30 days to today)."""
        args = _dates(**{"from": first, "to": last})
        result = await requests.of(caller).call("history", query="baselines", id=twin_id, **args)
        return {**result, "columns": _lists(result["columns"])}

    @app.get("/api/alerts", response_model=Alerts,
             responses={**_errors(422), **ROLE_ERRORS}, tags=["history"])  # fmt: skip
    async def alerts(
        caller: AnalystCaller,
        first: First = None,
        last: Last = None,
        twin: Annotated[int | None, Query(ge=0, le=MAX_TWIN_ID, description="one twin")] = None,
    ) -> dict[str, Any]:
        """The alerts the rules fired (``[alerts]``), population-wide or of one twin, with their
        count per rule (default: the 30 days to today)."""
        args = _dates(**{"from": first, "to": last}) | ({} if twin is None else {"id": twin})
        result = await requests.of(caller).call("history", query="alerts", **args)
        return {**result, "columns": _lists(result["columns"])}

    @app.post("/api/alerts/{alert_id}/ack", response_model=Acknowledged,
              dependencies=[StateChange], responses={**_errors(422), **CHANGE_ERRORS},
              tags=["history"])  # fmt: skip
    async def acknowledge(
        alert_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="alert id")],
        caller: AnalystCaller,
    ) -> dict[str, Any]:
        """Mark an alert acknowledged."""
        return await requests.of(caller).call("history", query="ack", alert_id=alert_id)

    @app.get("/api/population/daily", response_model=PopulationDaily,
             responses={**_errors(422), **ROLE_ERRORS}, tags=["history"])  # fmt: skip
    async def population(
        caller: AnalystCaller,
        first: First = None,
        last: Last = None,
        group_by: Literal["age_band", "sex", "condition", "employment"] = "age_band",
    ) -> dict[str, Any]:
        """Each day's means over the twins of each group (default: the 30 days to today)."""
        args = _dates(**{"from": first, "to": last})
        result = await requests.of(caller).call(
            "history", query="population", group_by=group_by, **args
        )
        return {**result, "columns": _lists(result["columns"])}


def _dates(**days: date | None) -> dict[str, str]:
    """The given days as the ``history`` op's ISO strings."""
    return {key: day.isoformat() for key, day in days.items() if day is not None}


def _lists(columns: dict[str, Any]) -> dict[str, list]:
    """Columns as JSON lists: arrays to numbers, NaN to null."""
    return {name: _json_values(values) for name, values in columns.items()}


def _json_values(values: Any) -> list:
    """One column as a JSON list, NaN as null."""
    return [
        None if isinstance(v, float) and math.isnan(v) else v for v in np.asarray(values).tolist()
    ]


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).ravel()]


async def _roster_and_crowd(
    requests: AsyncRequestClient,
) -> tuple[dict[str, Any], Crowd, float]:
    """The ``roster`` result, the crowd of a ``snapshot`` and the snapshot's sim time, s,
    answered at the same tick when possible (a spawn or despawn between them would make the
    roster and the crowd disagree); joined as every Clone client joins (``Replica.join``)."""
    for _ in range(CONSISTENT_TRIES):
        roster, snapshot = await requests.exchange(join_calls(None))
        if roster.tick == snapshot.tick:
            break
    replica = Replica()
    replica.join(roster, snapshot)
    return result_of(roster), replica.crowd(), snapshot.t_s


def _join_crowd(ids: np.ndarray, crowd: Crowd, t_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Activity codes ``(N,) int64`` (-1: not on the crowd stream yet) and positions ``(N, 2)
    float64`` of the twins ``ids`` (ascending) in ``crowd``, dead-reckoned to the snapshot's sim
    time ``t_s`` (a traveller going straight is in no crowd delta for up to a keyframe period,
    and nor is any other twin then: the newest record's time can be that old; protocol 6.1)."""
    codes = np.full(ids.size, -1, np.int64)
    pos_m = np.full((ids.size, 2), math.nan)
    rows = crowd.rows(ids)
    hit = rows >= 0
    codes[hit] = crowd.activity[rows[hit]]
    if hit.any():
        pos_m[hit] = crowd.position_at(t_s)[rows[hit]]
    return codes, pos_m
