"""Configuration: every tunable of the engine in one typed place, with defaults that work.

``Config`` is built from defaults, then a TOML file (``--config FILE.toml``), then command-line
overrides, and validated once. Nothing else in the project reads settings from globals or the
environment: the composition root passes the ``Config`` down.
"""

from __future__ import annotations

import ipaddress
import numbers
import os
import reprlib
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "AlertsConfig",
    "ChatConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "HistoryConfig",
    "SecurityConfig",
    "ServeConfig",
    "SimConfig",
    "TickDivisors",
    "exposure_problem",
    "load_config",
]


MAX_TWINS = 1_000_000
MAX_TIME_SCALE = 100_000.0
"""Simulated seconds per wall second, at most."""
MAX_DT_S = 600.0
"""Simulated seconds one tick may cover, at most (physiology substeps stay accurate below it)."""
MAX_EVERY = 1000
"""Ticks between two runs of a system, at most."""
MAX_HEALTH_WINDOW_S = 3600.0
"""The health system's spread window, at most (its error bounds grow with it)."""
MAX_PHYSIOLOGY_WINDOW_S = MAX_DT_S
"""The physiology system's spread window, at most: one kernel step (vitals lag by up to it)."""
MAX_CHECKPOINT_EVERY_S = 86_400.0
"""Wall seconds between two periodic checkpoints, at most."""
MAX_TOML_DEPTH = 8
"""Deepest nesting of tables and arrays a config file may hold."""


class ConfigError(ValueError):
    """A setting is missing, of the wrong type or out of range; the message says which and why."""


@dataclass(frozen=True)
class TickDivisors:
    """How often each system runs, in ticks (``[sim.every]``): 1 is every tick, N the last tick
    of every N, over the simulated seconds of all N (``engine.schedule.System``)."""

    commands: int = 1
    behavior: int = 1
    locomotion: int = 1
    animation: int = 1
    skinning: int = 1
    physiology: int = 1
    health: int = 1
    replication: int = 1

    def validate(self, dt_s: float) -> TickDivisors:
        """Check every divisor; physiology's window (``dt_s`` each tick) stays within
        ``MAX_DT_S``."""
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            _check(1 <= value <= MAX_EVERY, f"every.{name}", value, f"1..{MAX_EVERY} ticks")
        _check(
            self.physiology * dt_s <= MAX_DT_S,
            "every.physiology * time_scale / tick_hz",
            self.physiology * dt_s,
            f"at most {MAX_DT_S:g} simulated s a run",
        )
        return self


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
            dropped and counted in ``dropped_ticks``.
        device: "auto", "cpu" or "cuda".
        population_file: CSV or Parquet population to import instead of synthesizing one.
        town_seed: seed of the town layout; None uses ``seed``.
        every: how often each system runs, in ticks (``[sim.every]``).
        health_window_s: simulated seconds over which the health system spreads its pass over
            the twins when ticks are shorter (``systems.health``: one block of twins a tick,
            daily aggregates within documented bounds of W); 0: every twin every tick.
        physiology_window_s: the same for the physiology system (``systems.physiology``: each
            twin's vitals advance every W, exactly over W, so they lag by less than W); 0: every
            twin every tick.
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
    every: TickDivisors = field(default_factory=TickDivisors)
    health_window_s: float = 1.0
    physiology_window_s: float = 0.1

    @property
    def dt_s(self) -> float:
        """Simulated seconds per tick."""
        return self.time_scale / self.tick_hz

    def validate(self) -> SimConfig:
        _check(1 <= self.twins <= MAX_TWINS, "twins", self.twins, f"an integer in 1..{MAX_TWINS}")
        _check(0 <= self.seed < 2**63, "seed", self.seed, "an integer in 0..2**63-1")
        _check(self.town_seed is None or 0 <= self.town_seed < 2**63, "town_seed",
               self.town_seed, "an integer in 0..2**63-1")  # fmt: skip
        _check(0.1 <= self.tick_hz <= 1000, "tick_hz", self.tick_hz, "a rate in 0.1..1000 Hz")
        _check(
            0 < self.time_scale <= MAX_TIME_SCALE,
            "time_scale",
            self.time_scale,
            f"a factor in (0, {MAX_TIME_SCALE:g}]",
        )
        _check(
            self.dt_s <= MAX_DT_S,
            "time_scale / tick_hz",
            self.dt_s,
            f"at most {MAX_DT_S:g} simulated s a tick",
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
        self.every.validate(self.dt_s)
        window_s = self.health_window_s
        _check(0 <= window_s <= MAX_HEALTH_WINDOW_S, "health_window_s", window_s,
               f"simulated seconds in 0..{MAX_HEALTH_WINDOW_S:g}")  # fmt: skip
        window_s = self.physiology_window_s
        _check(0 <= window_s <= MAX_PHYSIOLOGY_WINDOW_S, "physiology_window_s", window_s,
               f"simulated seconds in 0..{MAX_PHYSIOLOGY_WINDOW_S:g}")  # fmt: skip
        return self


@dataclass(frozen=True)
class ServeConfig:
    """Serving: endpoints, replication rates and checkpoints of ``twin serve``.

    Attributes:
        pub_endpoint: ZeroMQ PUB endpoint for state and events (127.0.0.1 unless configured).
        router_endpoint: ZeroMQ ROUTER endpoint for requests.
        keyframe_every: crowd updates between two keyframes of a cell.
        dead_reckoning_m: a twin stays out of crowd deltas while its keyframe record, moved on
            at its speed and heading, is within this distance of it, m (protocol 6.1); 0: every
            change of its quantized position is sent (for clients that do not dead-reckon).
        crowd_hz: crowd updates per cell per wall-clock second, at most.
        vitals_hz: how often each cell's vitals (and every twin's, for a subscriber of all
            twins) are published, per wall-clock second.
        twin_hz: how often the vitals and pose of a twin subscribed to by id are published, per
            wall-clock second (the viewer's live charts); less often while over
            ``net.publisher.TWINS_PER_TICK`` (8) followed twins would be due in one tick.
        hwm: ZeroMQ high-water mark (messages queued per peer before dropping).
        max_requests_per_tick: requests answered at the start of one tick, at most.
        checkpoint: file the world is saved to soon after start, periodically and at shutdown;
            the command journal (``engine.journal``) lies beside it.
        checkpoint_every_s: wall seconds between periodic checkpoints; 0 = only at start and
            shutdown (the journal still keeps every acknowledged command).
        checkpoint_fallback: where the world goes at shutdown when ``checkpoint`` cannot be
            written; None: ``~/.local/state/synthtwin/``, then the system's temporary folder
            (each under the checkpoint's file name).
        http_host: address the HTTP REST API (``net.http_api``) listens on (loopback by default).
        http_port: its TCP port; 0 lets the system choose a free one.
        http_enabled: whether ``twin serve`` runs the HTTP API (and the video view) at all.
        gateway_niceness: how much lower the CPU priority of the gateway process (HTTP API and
            video view, ``net.gateway``) is than the simulation's, 0..19 (Unix ``nice``).
        webrtc_host_addresses: the IP addresses the video view offers as ICE host candidates;
            empty: every address of the machine but loopback (aioice's own choice). Use
            ``["127.0.0.1"]`` where viewers and server share a loopback-only network.
    """

    pub_endpoint: str = "tcp://127.0.0.1:5556"
    router_endpoint: str = "tcp://127.0.0.1:5557"
    keyframe_every: int = 30
    dead_reckoning_m: float = 0.25
    crowd_hz: float = 10.0
    vitals_hz: float = 1.0
    twin_hz: float = 10.0
    hwm: int = 1000
    max_requests_per_tick: int = 64
    checkpoint: Path = Path("data/world.ckpt")
    checkpoint_every_s: float = 60.0
    checkpoint_fallback: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_enabled: bool = True
    gateway_niceness: int = 10
    webrtc_host_addresses: tuple[str, ...] = ()

    def validate(self) -> ServeConfig:
        for name in ("pub_endpoint", "router_endpoint"):
            value = getattr(self, name)
            ok = value.startswith(("tcp://", "ipc://", "inproc://"))
            _check(ok, name, value, "a ZeroMQ endpoint such as tcp://127.0.0.1:5556")
        _check(self.pub_endpoint != self.router_endpoint, "router_endpoint",
               self.router_endpoint, "an endpoint other than pub_endpoint")  # fmt: skip
        _check(
            1 <= self.keyframe_every <= 10_000, "keyframe_every", self.keyframe_every, "1..10000"
        )
        _check(0 <= self.dead_reckoning_m <= 100, "dead_reckoning_m", self.dead_reckoning_m,
               "a distance in [0, 100] m")  # fmt: skip
        _check(0 < self.crowd_hz <= 1000, "crowd_hz", self.crowd_hz, "a rate in (0, 1000] Hz")
        _check(0 < self.vitals_hz <= 100, "vitals_hz", self.vitals_hz, "a rate in (0, 100] Hz")
        _check(0 < self.twin_hz <= 100, "twin_hz", self.twin_hz, "a rate in (0, 100] Hz")
        _check(1 <= self.hwm <= 10_000_000, "hwm", self.hwm, "1..10000000")
        _check(1 <= self.max_requests_per_tick <= 10_000, "max_requests_per_tick",
               self.max_requests_per_tick, "1..10000")  # fmt: skip
        every_s = self.checkpoint_every_s
        _check(0 <= every_s <= MAX_CHECKPOINT_EVERY_S, "checkpoint_every_s", every_s,
               f"0..{MAX_CHECKPOINT_EVERY_S:g} s (0: at start and shutdown only)")  # fmt: skip
        _check(bool(self.http_host) and not any(c.isspace() for c in self.http_host),
               "http_host", self.http_host, "a host name or IP address")  # fmt: skip
        _check(0 <= self.http_port <= 65_535, "http_port", self.http_port,
               "a TCP port in 0..65535 (0: any free port)")  # fmt: skip
        _check(isinstance(self.http_enabled, bool), "http_enabled", self.http_enabled,
               "true or false")  # fmt: skip
        _check(0 <= self.gateway_niceness <= 19, "gateway_niceness", self.gateway_niceness,
               "0..19")  # fmt: skip
        for address in self.webrtc_host_addresses:
            _check(_is_ip_address(address), "webrtc_host_addresses", self.webrtc_host_addresses,
                   "a list of IP addresses such as [\"127.0.0.1\"]")  # fmt: skip
        return self


@dataclass(frozen=True)
class SecurityConfig:
    """Access control, encryption and the limits that keep any one client to its share
    (``[security]``). The defaults suit a local demo on loopback: with no tokens every caller is
    admin; ``twin serve`` refuses to bind beyond loopback without tokens and encryption unless
    ``insecure`` is set.

    Attributes:
        tokens_file: the access tokens (``twin token``); None: ``tokens.json`` next to the
            checkpoint.
        keys_dir: CURVE keys (``twin keys``): ``server.key[_secret]``, ``clients/<role>/*.key``.
        curve: encrypt and authenticate every ZeroMQ socket with CURVE.
        tls_cert, tls_key: PEM files for HTTPS and WSS (``twin cert create``); None: plain HTTP.
        insecure: allow binding beyond loopback without tokens and encryption (warns loudly).
        allowed_hosts: Host header values the HTTP API answers (DNS rebinding); empty: the bind
            address, ``localhost``, ``127.0.0.1`` and ``[::1]`` with the port.
        allowed_origins: origins (``https://host:port``) whose pages may call the API; the page's
            own origin always may.
        max_body_bytes: largest REST request body.
        max_request_bytes: largest ROUTER request (ZeroMQ drops the peer beyond it).
        max_list_items: most items in one list argument of a request.
        max_nesting: deepest nesting of maps and lists in a request.
        request_budget_ms: wall milliseconds of a tick spent answering requests; the rest wait.
        rest_rate_per_s, rest_burst: each caller's REST requests per second, and burst (a
            caller: its token when valid, else its client address; ``net.http_security``).
        router_rate_per_s, router_burst: each ROUTER peer's requests per second, and burst.
        max_viewers: video viewers at once.
        ws_max_connections: WebSocket connections at once, over all callers (beyond: 503).
        ws_caller_connections: WebSocket connections one caller (a token) holds at once
            (beyond: 429), so one token cannot take every connection; without tokens nobody is
            known and only ``ws_max_connections`` holds.
        ws_rate_per_s, ws_burst: each WebSocket caller's requests per second, and burst, over
            all of its connections (a caller: its token; without tokens, each connection).
        ws_queue_bytes: PUB messages queued for one WebSocket connection before it is skipped
            ahead (a slow reader sees gaps, never an unbounded queue).
        ws_max_twins: twins one WebSocket caller follows by id at once, over its connections.
        max_twin_subscriptions: twins followed by id at once, over all subscribers of a PUB
            (the gateway's WebSocket relay is one subscriber, for all of its callers).
        spawn_per_min: twins spawned per wall minute, at most.
        min_time_scale, max_time_scale: the range ``time_scale`` requests may set.
        health_pub_endpoint: with access control (a token file exists), the ZeroMQ PUB endpoint
            of the health topics (cell and twin vitals): a CURVE server that lets in only the
            keys filed under analyst, operator and admin; the main PUB then carries none.
    """

    tokens_file: Path | None = None
    keys_dir: Path = Path("data/keys")
    curve: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1 << 20
    max_request_bytes: int = 1 << 20
    max_list_items: int = 10_000
    max_nesting: int = 8
    request_budget_ms: float = 4.0
    rest_rate_per_s: float = 50.0
    rest_burst: int = 100
    router_rate_per_s: float = 200.0
    router_burst: int = 400
    max_viewers: int = 8
    ws_max_connections: int = 256
    ws_caller_connections: int = 16
    ws_rate_per_s: float = 200.0
    ws_burst: int = 400
    ws_queue_bytes: int = 4 << 20
    ws_max_twins: int = 16
    max_twin_subscriptions: int = 64
    spawn_per_min: int = 100_000
    min_time_scale: float = 0.01
    max_time_scale: float = MAX_TIME_SCALE
    health_pub_endpoint: str = "tcp://127.0.0.1:5558"

    def validate(self) -> SecurityConfig:
        _check(self.health_pub_endpoint.startswith(("tcp://", "ipc://", "inproc://")),
               "health_pub_endpoint", self.health_pub_endpoint,
               "a ZeroMQ endpoint such as tcp://127.0.0.1:5558")  # fmt: skip
        _check((self.tls_cert is None) == (self.tls_key is None), "tls_cert / tls_key",
               (self.tls_cert, self.tls_key), "both files or neither")  # fmt: skip
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{path}: no such file (make a pair with `twin cert create`)")
        limits = {
            "max_body_bytes": (1024, 1 << 30), "max_request_bytes": (1024, 1 << 30),
            "max_list_items": (1, 10_000_000), "max_nesting": (2, 64),
            "rest_burst": (1, 1_000_000), "router_burst": (1, 1_000_000),
            "max_viewers": (0, 1000), "max_twin_subscriptions": (0, 1_000_000),
            "ws_max_connections": (0, 100_000), "ws_caller_connections": (1, 100_000),
            "ws_burst": (1, 1_000_000),
            "ws_queue_bytes": (64 << 10, 1 << 30), "ws_max_twins": (0, 1_000_000),
            "spawn_per_min": (0, MAX_TWINS),
        }  # fmt: skip
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            _check(low <= value <= high, name, value, f"an integer in {low}..{high}")
        for name in ("request_budget_ms", "rest_rate_per_s", "router_rate_per_s", "ws_rate_per_s"):
            value = getattr(self, name)
            _check(0 < value <= 1e6, name, value, "a positive number")
        _check(0 < self.min_time_scale <= self.max_time_scale <= MAX_TIME_SCALE,
               "min_time_scale / max_time_scale", (self.min_time_scale, self.max_time_scale),
               f"0 < min <= max <= {MAX_TIME_SCALE:g}")  # fmt: skip
        return self


@dataclass(frozen=True)
class HistoryConfig:
    """The health record (``[history]``): every twin's days, activity episodes and vitals in an
    embedded DuckDB file (``engine.health_store``), written off the tick.

    Attributes:
        enabled: whether ``twin serve`` keeps the record at all.
        path: the DuckDB file; None: ``health.duckdb`` next to the checkpoint
            (``data/health.duckdb`` by default).
        minute_s: simulated seconds between two vitals samples of every twin (60: one a minute).
        minute_days: simulated days of vitals samples kept; older ones are deleted (daily rows
            and episodes are kept forever).
        queue_rows: rows waiting for the writer, at most; beyond it a tick's rows are dropped
            and counted rather than wait.
    """

    enabled: bool = True
    path: Path | None = None
    minute_s: float = 60.0
    minute_days: int = 30
    queue_rows: int = 2_000_000

    def validate(self) -> HistoryConfig:
        _check(isinstance(self.enabled, bool), "enabled", self.enabled, "true or false")
        _check(1.0 <= self.minute_s <= 86_400.0, "minute_s", self.minute_s,
               "1..86400 simulated s")  # fmt: skip
        _check(1 <= self.minute_days <= 36_500, "minute_days", self.minute_days, "1..36500 days")
        _check(1_000 <= self.queue_rows <= 100_000_000, "queue_rows", self.queue_rows,
               "1000..100000000 rows")  # fmt: skip
        return self


@dataclass(frozen=True)
class ChatConfig:
    """Talking to twins (``[chat]``, ``net.chat``): the embedded engine answers alone unless both
    ``llm_base_url`` and ``llm_model`` name an OpenAI-compatible Chat Completions endpoint; its
    API key comes only from the environment (``SYNTHTWIN_CHAT_API_KEY``), never from a file.

    Attributes:
        llm_base_url: the endpoint up to its version, e.g. ``http://127.0.0.1:11434/v1``.
        llm_model: the model name the endpoint knows.
        timeout_s: the language model's deadline per reply (tool rounds included), wall s; the
            embedded engine answers instead past it.
        seed: varies the embedded engine's phrasings (deterministic per seed).
        max_pending: chats waiting for the worker at once; beyond it ``rate_limited``.
    """

    llm_base_url: str | None = None
    llm_model: str | None = None
    timeout_s: float = 10.0
    seed: int = 0
    max_pending: int = 64

    def validate(self) -> ChatConfig:
        url = self.llm_base_url
        _check(url is None or url.startswith(("http://", "https://")), "llm_base_url", url,
               "an http:// or https:// URL")  # fmt: skip
        _check((url is None) == (self.llm_model is None), "llm_base_url / llm_model",
               (url, self.llm_model), "both or neither")  # fmt: skip
        _check(0 < self.timeout_s <= 600, "timeout_s", self.timeout_s, "0 < s <= 600")
        _check(0 <= self.seed < 2**63, "seed", self.seed, "an integer in 0..2**63-1")
        _check(1 <= self.max_pending <= 10_000, "max_pending", self.max_pending, "1..10000")
        return self


@dataclass(frozen=True)
class AlertsConfig:
    """Alert rules on the health record (``[alerts]``, ``engine.alerts``), evaluated off the tick
    by the record's writer each time a day closes. Defaults from clinical and wearable practice:

    Attributes:
        enabled: whether closed days are checked at all.
        resting_hr_rise_bpm, resting_hr_rise_days: resting HR at least this far above its 28-day
            baseline on this many consecutive days (wearable infection studies flag +10 bpm
            sustained: Radin et al. 2020, Lancet Digit Health 2:e85; Mishra et al. 2020, Nat
            Biomed Eng 4:1208).
        tachycardia_bpm: a day's resting HR above it (resting tachycardia, > 100 bpm: AHA).
        spo2_low_pct, spo2_low_min: SpO2 below it for this long (< 92 %, BTS oxygen guideline:
            O'Driscoll et al. 2017, Thorax 72:i1; sustained 10 min).
        bp_day_sbp_mmhg, bp_day_dbp_mmhg: a day's mean BP at or above (140/90: hypertension grade 1,
            Williams et al. 2018 ESC/ESH, Eur Heart J 39:3021).
        bp_crisis_sbp_mmhg, bp_crisis_dbp_mmhg: any sample at or above (180/120: hypertensive
            crisis, Whelton et al. 2018 ACC/AHA, Hypertension 71:e13).
        glucose_high_mgdl, glucose_low_mgdl, glucose_min: glucose above or below for this long
            (outside 70-180 mg/dL for 15 min: Battelino et al. 2019, Diabetes Care 42:1593;
            Danne et al. 2017, Diabetes Care 40:1631).
        short_sleep_h, short_sleep_nights, short_sleep_window: main sleep under it on this many
            of the last ``window`` nights (adults need 7 h or more; under 6 h is short sleep:
            Watson et al. 2015, Sleep 38:843).
    """

    enabled: bool = True
    resting_hr_rise_bpm: float = 10.0
    resting_hr_rise_days: int = 2
    tachycardia_bpm: float = 100.0
    spo2_low_pct: float = 92.0
    spo2_low_min: float = 10.0
    bp_day_sbp_mmhg: float = 140.0
    bp_day_dbp_mmhg: float = 90.0
    bp_crisis_sbp_mmhg: float = 180.0
    bp_crisis_dbp_mmhg: float = 120.0
    glucose_high_mgdl: float = 180.0
    glucose_low_mgdl: float = 70.0
    glucose_min: float = 15.0
    short_sleep_h: float = 6.0
    short_sleep_nights: int = 3
    short_sleep_window: int = 5

    def validate(self) -> AlertsConfig:
        _check(isinstance(self.enabled, bool), "alerts.enabled", self.enabled, "true or false")
        for name in ("resting_hr_rise_days", "short_sleep_nights", "short_sleep_window"):
            value = getattr(self, name)
            _check(1 <= value <= 28, f"alerts.{name}", value, "1..28 days")
        _check(self.short_sleep_nights <= self.short_sleep_window, "alerts.short_sleep_nights",
               self.short_sleep_nights, "at most short_sleep_window")  # fmt: skip
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float":
                _check(0 < value <= 1000, f"alerts.{f.name}", value, "a positive number")
        return self


@dataclass(frozen=True)
class ClusterConfig:
    """Running one world on several Ray shards (``[cluster]``, ``engine.app.shards``,
    docs/deployment.md).

    Attributes:
        shards: regions of the town, one Ray actor each (1: no Ray, the single-process world).
        ray_address: an existing Ray cluster to join (``ray start --head`` printed it); None
            starts a local one.
        barrier_ticks: ticks the shards run between two barriers; a twin that crosses a region
            edge moves to its new shard at the next barrier, so at most this many ticks late.
        checkpoint_every_ticks: ticks between two cluster checkpoints (per-shard files and a
            manifest); a killed shard restarts from the last one.
        cpus: CPUs a local Ray cluster may use (None: all of the machine's).
        object_store_mb: a local Ray cluster's shared-memory object store, MB.
        actor_restarts: times Ray restarts a killed shard actor before the run fails.
        shard_port_base: ``twin serve --shards`` on a cluster joined by ``ray_address``: shard
            ``k`` serves its PUB, ROUTER and health PUB on ports ``base + 3k`` to ``base + 3k + 2``
            of its node (a local cluster takes free loopback ports).
    """

    shards: int = 1
    ray_address: str | None = None
    barrier_ticks: int = 1
    checkpoint_every_ticks: int = 1800
    cpus: int | None = None
    object_store_mb: int = 256
    actor_restarts: int = 3
    shard_port_base: int = 5600

    def validate(self) -> ClusterConfig:
        _check(1 <= self.shards <= 256, "shards", self.shards, "1..256 shards")
        _check(1 <= self.barrier_ticks <= 3600, "barrier_ticks", self.barrier_ticks,
               "1..3600 ticks")  # fmt: skip
        _check(1 <= self.checkpoint_every_ticks <= 10_000_000, "checkpoint_every_ticks",
               self.checkpoint_every_ticks, "1..10000000 ticks")  # fmt: skip
        _check(self.cpus is None or 1 <= self.cpus <= 4096, "cpus", self.cpus, "1..4096 CPUs")
        _check(78 <= self.object_store_mb <= 1 << 20, "object_store_mb", self.object_store_mb,
               "78..1048576 MB (Ray's minimum is 75 MiB)")  # fmt: skip
        _check(1024 <= self.shard_port_base <= 65535 - 3 * self.shards, "shard_port_base",
               self.shard_port_base, "1024..65535 - 3 x shards")  # fmt: skip
        _check(0 <= self.actor_restarts <= 1000, "actor_restarts", self.actor_restarts,
               "0..1000 restarts")  # fmt: skip
        return self


@dataclass(frozen=True)
class Config:
    """Everything the composition root needs, one section per concern."""

    sim: SimConfig = field(default_factory=SimConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def validate(self) -> Config:
        self.sim.validate()
        self.serve.validate()
        self.security.validate()
        self.chat.validate()
        self.history.validate()
        self.alerts.validate()
        self.cluster.validate()
        return self

    @property
    def history_file(self) -> Path:
        """The health record: ``history.path``, else ``health.duckdb`` by the checkpoint."""
        return self.history.path or self.serve.checkpoint.parent / "health.duckdb"

    @property
    def tokens_file(self) -> Path:
        """The token file: ``security.tokens_file``, else ``tokens.json`` by the checkpoint."""
        return self.security.tokens_file or self.serve.checkpoint.parent / "tokens.json"


_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist = 3, 80, 80, 8


def _show(value: Any) -> str:
    """``repr(value)``, shortened (a deeply nested or huge value stays one short line)."""
    return _SHOW.repr(value)


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {_show(value)} is out of range: expected {allowed}")


def exposure_problem(config: Config) -> str | None:
    """Why ``twin serve`` must not bind where ``config`` says, or None.

    Binding beyond loopback (a PUB or ROUTER endpoint, or the HTTP host when the HTTP API runs,
    not on 127.0.0.0/8, ::1, localhost, ``ipc://`` or ``inproc://``) needs access tokens (a token
    file at ``config.tokens_file``) and encryption: CURVE (``security.curve``) for ZeroMQ, TLS
    (``security.tls_cert``) for HTTP. ``security.insecure`` lets it bind anyway (the caller warns).
    """
    serve, security = config.serve, config.security
    zmq_out = [e for e in (serve.pub_endpoint, serve.router_endpoint) if not _is_local_endpoint(e)]
    http_out = serve.http_enabled and not _is_local_host(serve.http_host)
    exposed = zmq_out + ([f"http://{serve.http_host}:{serve.http_port}"] if http_out else [])
    missing = []
    if exposed and not config.tokens_file.is_file():
        missing.append(f"access tokens (no token file {config.tokens_file}: `twin token create`)")
    if zmq_out and not security.curve:
        missing.append("CURVE encryption (security.curve = true, keys from `twin keys create`)")
    if http_out and security.tls_cert is None:
        missing.append("TLS (security.tls_cert and tls_key from `twin cert create`)")
    if not missing:
        return None
    return f"binding beyond loopback ({', '.join(exposed)}) without " + " and without ".join(
        missing
    )


def _is_local_endpoint(endpoint: str) -> bool:
    """A ZeroMQ endpoint that stays on this machine: ipc://, inproc://, or TCP on loopback."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    host = endpoint.removeprefix("tcp://").rpartition(":")[0]
    return _is_local_host(host)


def _is_local_host(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name or a DNS name: beyond loopback


# --- coercion: each setting's TOML or override value -> its field's type, strictly ---------------


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("expected a whole number")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("expected a number")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _path(value: Any) -> Path:
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if not isinstance(text, str) or not text or "\0" in text:
        raise TypeError("expected a file path (a non-empty string)")
    return Path(text)


def _parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):  # bool("false") would be True
        raise TypeError("expected true or false")
    return value


def _parse_strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _parse_divisors(value: Any) -> TickDivisors:
    """``[sim.every]``: a table of whole tick counts by system name."""
    if isinstance(value, TickDivisors):
        return value
    if not isinstance(value, dict):
        raise TypeError("expected a table of ticks by system, such as [sim.every] behavior = 2")
    known = {f.name for f in fields(TickDivisors)}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"unknown sim.every setting(s) {sorted(unknown)}; known: {sorted(known)}")
    for name, ticks in value.items():
        if isinstance(ticks, bool) or not isinstance(ticks, numbers.Integral):
            raise ConfigError(
                f"sim.every.{name} = {_show(ticks)}: expected a whole number of ticks"
            )
    return TickDivisors(**{name: int(ticks) for name, ticks in value.items()})


def _parse_start(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"start = {_show(value)}: expected a date YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None


_PARSERS: dict[str, Any] = {
    "int": _whole,
    "int | None": _whole,
    "float": _number,
    "float | None": _number,
    "bool": _parse_bool,
    "str": _text,
    "str | None": _text,
    "Path": _path,
    "Path | None": _path,
    "tuple[str, ...]": _parse_strings,
    "datetime | None": _parse_start,
    "TickDivisors": _parse_divisors,
}
"""How a setting is read, by its field's annotation (every field of a section needs one)."""

SECTIONS: dict[str, type] = {
    "sim": SimConfig,
    "serve": ServeConfig,
    "security": SecurityConfig,
    "chat": ChatConfig,
    "history": HistoryConfig,
    "alerts": AlertsConfig,
    "cluster": ClusterConfig,
}


def _parser(kind: type, name: str, annotation: str) -> Any:
    try:
        return _PARSERS[annotation]
    except KeyError:
        raise TypeError(f"{kind.__name__}.{name}: no parser for {annotation!r}") from None


_COERCE: dict[str, dict[str, Any]] = {
    section: {f.name: _parser(kind, f.name, str(f.type)) for f in fields(kind)}
    for section, kind in SECTIONS.items()
}


def _coerce(section: str, name: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        return _COERCE[section][name](value)
    except (TypeError, ValueError, OverflowError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{section}.{name} = {_show(value)}: {err}") from None


# --- loading -------------------------------------------------------------------------------------


def load_config(
    path: Path | None = None,
    serve: dict[str, Any] | None = None,
    security: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
    **sim: Any,
) -> Config:
    """Defaults, then the TOML file's tables, then overrides (None = not given).

    The file is validated on its own first, so a bad value in it is reported even when an
    override replaces it.

    Args:
        path: TOML file with ``[sim]``, ``[serve]``, ``[security]`` and ``[history]`` tables.
        serve: overrides of ``[serve]`` settings.
        security: overrides of ``[security]`` settings.
        history: overrides of ``[history]`` settings.
        cluster: overrides of ``[cluster]`` settings.
        sim: overrides of ``[sim]`` settings.

    Raises:
        ConfigError: unreadable file, unknown key, wrong type or out-of-range value; one line.
    """
    tables = _read_toml(Path(path)) if path is not None else {}
    if tables:
        try:
            _build(tables)
        except ConfigError as err:
            raise ConfigError(f"config file {path}: {err}") from None
    overrides = {
        "sim": sim,
        "serve": serve or {},
        "security": security or {},
        "history": history or {},
        "cluster": cluster or {},
    }
    merged = {
        name: {
            **tables.get(name, {}),
            **{k: v for k, v in overrides.get(name, {}).items() if v is not None},
        }
        for name in SECTIONS
    }
    return _build(merged)


def _build(tables: dict[str, dict[str, Any]]) -> Config:
    """A validated Config from settings by section (defaults for the rest)."""
    sections = {name: _section(name, tables.get(name, {})) for name in SECTIONS}
    try:
        return Config(**sections).validate()
    except OSError as err:  # a path the system cannot even look up (name too long, ...)
        raise ConfigError(f"{err.filename}: {err.strerror}") from None


def _section(name: str, values: dict[str, Any]) -> Any:
    kind = SECTIONS[name]
    known = {f.name for f in fields(kind)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"unknown {name} setting(s) {_show(sorted(map(str, unknown)))}; known: {sorted(known)}"
        )
    return replace(kind(), **{k: _coerce(name, k, v) for k, v in values.items()})


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    """The file's tables; ConfigError for anything but a readable TOML file of known tables."""
    data = _parse_toml(path, _read_text(path))
    extra = set(data) - set(SECTIONS)
    if extra:
        raise ConfigError(
            f"config file {path}: unknown table(s) {_show(sorted(extra))}; "
            f"expected {sorted(SECTIONS)}"
        )
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"config file {path}: {name} = {_show(table)} is not a table; expected a [{name}] "
                "header with settings under it"
            )
    return data


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path}: is a folder; expected a TOML file") from None
    except OSError as err:
        raise ConfigError(f"config file {path}: cannot read it ({err.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path}: not UTF-8 text (byte {err.start}); expected a TOML file"
        ) from None


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    too_deep = ConfigError(
        f"config file {path}: nested too deeply; expected at most {MAX_TOML_DEPTH} levels of "
        "tables and arrays"
    )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: not valid TOML ({err})") from None
    except RecursionError:
        raise too_deep from None
    if _deeper_than(data, MAX_TOML_DEPTH):
        raise too_deep
    return data


def _deeper_than(value: Any, levels: int) -> bool:
    """Whether tables and arrays nest more than ``levels`` deep in ``value`` (a scalar: 0, a
    table or array: one more than its deepest item)."""
    if not isinstance(value, dict | list):
        return False
    if levels == 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(_deeper_than(child, levels - 1) for child in children)
