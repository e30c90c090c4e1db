"""``twin serve``: the realtime simulation behind its ZeroMQ endpoints and its HTTP API.

The composition root of serving: builds the simulation with the ZeroMQ server as its command
source (its requests are answered in each tick's INPUT phase) and the publisher as its
replicator, hands the request handler what it may control, runs the fixed-tick loop in real time
until asked to stop (SIGINT, SIGTERM or the ``stop`` event), and closes every socket. Its world
is durable (``engine.app.durability``): a checkpoint as soon as it runs, periodically and at
shutdown (to a fallback path if need be), and the journal of acknowledged commands between them;
a resumed world replays the journal after its checkpoint. It refuses to bind beyond loopback
without access tokens and encryption unless ``security.insecure`` is set (then it warns). The
HTTP API and the video view run in a process of their own (``net.gateway``) as clients of the
ROUTER and the PUB, so the simulation thread stays the only one that touches the world, and
rendering or encoding never competes with it for the GIL. Chats with twins (``[chat]``) are
composed in a worker process of their own (``net.chat_service``), answered at a later tick. The
health record (``[history]``, ``engine.app.record``) is written by a thread of its own, flushed
before each checkpoint and aligned with a resumed world; its ``history`` queries run on another
(``net.history_requests``), answered at a later tick too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numba

from synthtwin.engine.app.durability import Durability, ShutdownSave
from synthtwin.engine.app.gateway_host import GatewayWatch, http_gateway
from synthtwin.engine.app.record import Recorder
from synthtwin.engine.app.simulation import Simulation, build_simulation
from synthtwin.engine.checkpoint import CheckpointInfo, read_checkpoint_info
from synthtwin.engine.config import ChatConfig, Config, ConfigError, exposure_problem
from synthtwin.engine.threads import TASKS, pin_threads
from synthtwin.net.chat import ChatSettings, api_key_from_env
from synthtwin.net.chat_requests import ChatRequests
from synthtwin.net.chat_service import ChatService
from synthtwin.net.gateway import Gateway
from synthtwin.net.history_requests import HistoryRequests
from synthtwin.net.requests import Controls, RequestHandler
from synthtwin.net.server import ZmqServer

__all__ = ["Serving", "chat_settings", "cores_for_the_gateway", "exposure_warnings", "serve"]

log = logging.getLogger(__name__)

GATEWAY_CORE_SHARE = 4
"""The gateway gets one core in this many (at least one) when serving has two or more."""


class Serving:
    """A simulation with its servers, ready to run (``run``) and to stop (``stop``).

    Attributes:
        http: the gateway process of the HTTP API and the video view (its ``url``), bound here
            and served while ``run`` runs; None when ``serve.http_enabled`` is off.
        durability: the checkpoints and the command journal.
        warnings: what the operator must hear before serving (binding beyond loopback with
            ``security.insecure``), one line each, logged at WARNING level (the CLI's stderr).
        replayed: journaled commands re-applied after the resumed checkpoint.
        saved: where the world went at shutdown (after ``run``).

    Args:
        config: the simulation and how to serve it.
        resume: a checkpoint to continue from: its world, its loop's time scale and pause, and
            the commands journaled after it.
        keep_time_scale: ``config.sim.time_scale`` wins over the resumed one (an explicit
            ``--time-scale``).

    Raises:
        ConfigError: binding beyond loopback without tokens and encryption, unless insecure.
        CheckpointError: ``resume`` is missing, unreadable or damaged (nothing is bound then).
        JournalError: the journal cannot be created, or ``resume``'s is damaged.
    """

    def __init__(
        self, config: Config, resume: Path | None = None, keep_time_scale: bool = False
    ) -> None:
        self.config = config
        self.warnings = exposure_warnings(config)
        resumed = read_checkpoint_info(resume) if resume is not None else None
        self.replayed = 0
        self.saved: ShutdownSave | None = None
        self.durability: Durability | None = None
        self.recorder: Recorder | None = None
        self.stop = threading.Event()
        self.server = ZmqServer(
            config.serve, config.sim.tick_hz, config.security, config.tokens_file
        )
        self.http: Gateway | None = None
        self.chat: ChatService | None = None
        try:
            if config.serve.http_enabled:
                self.http = http_gateway(
                    config, self.server.endpoints, self.server.access_control,
                    chat_settings(config.chat),
                )  # fmt: skip
            if config.history.enabled:
                self.recorder = Recorder(config.history_file, config.history, alerts=config.alerts)
            record = self.recorder.sink if self.recorder is not None else None
            self.sim: Simulation = build_simulation(
                config, resume, replicator=self.server.publisher, commands=self.server,
                record=record,
            )  # fmt: skip
            flush = None
            if self.recorder is not None:
                self.recorder.align(self.sim.world)
                flush = self.recorder.flush
            self.durability = Durability(self.sim, config.serve, resumed, before_save=flush)
            self.chat = ChatService(chat_settings(config.chat), config.chat.max_pending)
        except BaseException:
            self._close()
            raise
        self.server.publisher.epoch_iso = self.sim.world.clock.start.isoformat()
        history = self._history_requests()
        self.server.handler = RequestHandler(
            Controls(
                world=self.sim.world,
                loop=self.sim.loop,
                spawn=self.sim.spawn,
                despawn=self.sim.despawn,
                today=self.sim.today,
            ),
            self.server.publisher,
            config.security,
            self.server.tokens,
            journal=self.durability.journal,
            chat=ChatRequests(
                self.chat,
                self.sim.world,
                self.sim.today,
                self.server.publish_health,
                fetch=history.fetch if history is not None else None,
            ),
            history=history,
        )
        self._watch = GatewayWatch(self.http) if self.http is not None else None
        if resume is not None:
            self._replay(resume, resumed, config.sim.time_scale if keep_time_scale else None)

    def _history_requests(self) -> HistoryRequests | None:
        """The ``history`` op's queries, on the record's database (None: no record kept)."""
        if self.recorder is None:
            return None
        return HistoryRequests(
            self.recorder.store, self.sim.world, self.server.publish_health,
            self.recorder.writer.take_alerts,
        )  # fmt: skip

    def _close_record(self) -> None:
        """Stop the history queries, store what is queued and close the record."""
        handler = self.server.handler
        if handler is not None and handler.history is not None:
            handler.history.close()
        if self.recorder is not None:
            self.recorder.close()

    def _replay(self, resume: Path, resumed: CheckpointInfo, time_scale: float | None) -> None:
        """The loop's settings and the commands journaled after the resumed checkpoint."""
        try:
            apply = getattr(self.server.handler, "apply", None)
            self.replayed = self.durability.restore(resume, resumed, apply, time_scale)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        """Release what ``__init__`` acquired, when it fails."""
        if self.durability is not None:
            self.durability.close()
        if self.chat is not None:
            self.chat.close()
        if getattr(self, "sim", None) is not None:
            self.sim.close()
        self._close_record()
        if self.http is not None:
            self.http.stop()
        self.server.close()

    def run(self) -> None:
        """Tick in real time until ``stop`` is set, then checkpoint and close."""
        if self.http is None:
            self._run()
            return
        with cores_for_the_gateway() as cores:
            self._run(cores)

    def _run(self, gateway_cores: tuple[int, ...] = ()) -> None:
        try:
            self.durability.periodic()  # the first checkpoint, before the first tick
            if self.http is not None:
                self.http.start(cores=gateway_cores)
            self.sim.loop.run_realtime(self.stop, before_tick=self._between_ticks)
        finally:
            try:
                if self.http is not None:
                    # REST calls in flight still get answers while the gateway winds down
                    self.http.stop(while_waiting=self.server.poll)
            finally:
                try:
                    self.saved = self.durability.at_shutdown()
                finally:
                    self.chat.close()
                    self.server.close()
                    self._close_record()
                    self.sim.close()

    def _between_ticks(self) -> None:
        """The host's work between ticks (requests are the ticks' INPUT phase, whose cached
        replies are made ready here)."""
        if self._watch is not None:
            self._watch.check()
        self.durability.periodic()
        self.server.prepare()

    def checkpoint(self) -> Path:
        """Save the world now (between ticks, from the simulation thread); the file written.

        Raises:
            CheckpointError: it could not be written.
        """
        return self.durability.checkpoint()


def chat_settings(chat: ChatConfig) -> ChatSettings:
    """The chat engine's settings from ``[chat]``, with the language model's API key from the
    environment (``SYNTHTWIN_CHAT_API_KEY``; never from a file)."""
    return ChatSettings(
        seed=chat.seed, llm_base_url=chat.llm_base_url, llm_model=chat.llm_model,
        llm_api_key=api_key_from_env(os.environ), llm_timeout_s=chat.timeout_s,
    )  # fmt: skip


def exposure_warnings(config: Config) -> list[str]:
    """What serving ``config`` must warn of, shared by ``twin serve`` and ``twin serve
    --shards``: nothing on loopback; beyond it without protection a ConfigError, or with
    ``security.insecure`` the warning to print (logged at WARNING level), one line each."""
    problem = exposure_problem(config)
    if problem is None:
        return []
    if not config.security.insecure:
        raise ConfigError(
            f"refusing to serve: {problem}; fix: create tokens and enable encryption, bind to "
            "127.0.0.1, or accept the risk with security.insecure = true (--insecure)"
        )
    warning = f"WARNING: serving INSECURELY: {problem} (security.insecure is set)"
    log.warning("%s", warning)
    return [warning]


@contextlib.contextmanager
def cores_for_the_gateway() -> Iterator[tuple[int, ...]]:
    """Keep this process's threads off the gateway's cores while the context runs; yields them.

    The gateway renders and encodes video without pause; sharing cores, it would preempt the
    simulation mid-tick now and then, and a parallel kernel waiting for a delayed thread would
    stretch the tick. So, with two cores or more, the gateway gets the last quarter of them (at
    least one) and the threads of this process (the simulation, numba's workers; not ZeroMQ's)
    are pinned to the rest, numba's thread count shrinking to match (it is per calling thread:
    the simulation thread enters this). At the default 1,000 twins the kernels run faster on one
    thread than on two here anyway (starting a parallel region costs more than it saves). On
    exit the threads get every core back. Yields () (no pinning) on one core, or where
    ``/proc/self/task`` does not list the threads.
    """
    cores = sorted(os.sched_getaffinity(0))
    threads = numba.get_num_threads()
    if len(cores) < 2 or not TASKS.is_dir():
        yield ()
        return
    share = max(1, len(cores) // GATEWAY_CORE_SHARE)
    simulation, gateway = set(cores[:-share]), tuple(cores[-share:])
    # not ZeroMQ's I/O thread: it sends what a tick published, beside the next tick
    pin_threads(simulation, skip_prefix="ZMQbg")
    numba.set_num_threads(max(1, min(threads, len(simulation))))
    try:
        yield gateway
    finally:
        pin_threads(set(cores), skip_prefix="ZMQbg")
        numba.set_num_threads(threads)


def serve(
    config: Config,
    resume: Path | None = None,
    on_ready: Callable[[Serving], None] | None = None,
    keep_time_scale: bool = False,
) -> Serving:
    """Run ``twin serve`` in the calling (main) thread; SIGINT and SIGTERM stop it cleanly.
    Returns the stopped Serving (``saved`` says where the world went)."""
    serving = Serving(config, resume, keep_time_scale)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: serving.stop.set())
    if on_ready is not None:
        on_ready(serving)
    serving.run()
    return serving
