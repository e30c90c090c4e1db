"""One viewer session in Debian's Chromium against a real server: run inside a loopback-only
network namespace by ``tests/test_browser.py`` (see shared/notes/webrtc-in-tests.md).

Usage: ``python -m tests.browser_session OUT_DIR [--login | --history]``; prints one JSON line of
findings and saves screenshots into OUT_DIR. ``--login`` serves with a token file instead (closed
access) and signs in: the login form, a wrong token, a viewer's token, signing out, an analyst's
link (and its chat with the selected twin). ``--history`` first simulates a week headless into a
health record (``twin simulate --store``), serves it, and browses it: a twin's weeks, a day's
timeline, the alerts, the groups, the live charts at x1 and x3600, and ``/docs``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from synthtwin.engine import health_query
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.auth import Role, TokenStore
from tests.loopback import free_port, loopback

CHROMIUM = "/usr/lib/chromium/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--allow-loopback-in-peer-connection",
]  # fmt: skip
VIDEO = "document.getElementById('video')"
PLAYING = f"() => {VIDEO}.videoWidth > 0 && {VIDEO}.currentTime > 0"
SHOWN = "(selector) => !document.querySelector(selector).hidden"
HIDDEN = "(selector) => document.querySelector(selector).hidden"
CHAT_REPLIES = "(n) => document.querySelectorAll('#chat-log .chat-twin').length >= n"
FPS_WINDOW_MS = 3000
MORNING = "2026-03-02T08:00"
"""A Monday's commute: twins on the move, for a picture that changes and reproducible shots."""
ZOOM_STEPS = 45
"""Wheel notches (x1.2 each) from the town overview down to a few metres."""


def start_server(
    out: Path, security: dict | None = None, history: dict | None = None, **world: object
) -> tuple[Serving, threading.Thread]:
    """``twin serve`` on loopback in a thread: 300 twins on a Monday morning unless ``world``
    says otherwise (``twins``, ``seed``, ``start``)."""
    settings = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
                "http_port": free_port(), "checkpoint": out / "w.ckpt",
                "webrtc_host_addresses": ["127.0.0.1"]}  # fmt: skip
    world = {"twins": 300, "seed": 4, "start": MORNING, **world}
    config = load_config(
        None, serve=settings, security=security, history=history, tick_hz=30, **world
    )
    server = Serving(config)
    thread = threading.Thread(target=server.run, name="serve")
    thread.start()
    return server, thread


FRAME_JS = """() => {
  const video = document.getElementById('video');
  const canvas = document.createElement('canvas');
  canvas.width = 160; canvas.height = 90;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, 160, 90);
  return Array.from(ctx.getImageData(0, 0, 160, 90).data);
}"""


def wait_for(page, predicate: str, arg: object = None, timeout_ms: float = 30_000) -> None:
    """Wait until the JavaScript function ``predicate(arg)`` holds in the page.

    Polls with ``page.evaluate`` (DevTools, which the page's CSP does not govern), not Playwright's
    ``wait_for_function``, whose in-page ``eval`` the CSP (rightly) refuses.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while not _holds(page, predicate, arg):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{predicate} with {arg!r} did not hold in {timeout_ms / 1000:g} s")
        page.wait_for_timeout(50)


def _holds(page, predicate: str, arg: object) -> bool:
    try:
        return bool(page.evaluate(predicate, arg))
    except PlaywrightError as err:  # the page is loading again (a sign-out reloads it)
        if "context was destroyed" not in str(err):
            raise
        return False


def video_pixels(page) -> np.ndarray:
    """``(90, 160, 4)`` RGBA of the current video frame, downscaled in the page."""
    return np.array(page.evaluate(FRAME_JS), dtype=np.float64).reshape(90, 160, 4)


def twin_pixels(frame: np.ndarray) -> float:
    """Share of pixels that differ from the ground colour (the frame's median) by > 24 levels."""
    rgb = frame[..., :3]
    ground = np.median(rgb.reshape(-1, 3), axis=0)
    return float((np.abs(rgb - ground).max(axis=-1) > 24).mean())


def pan(page, dx_px: int) -> None:
    """Drag the video sideways by ``dx_px`` (the camera pans on the data channel)."""
    box = page.locator("#video").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx_px, y, steps=10)
    page.mouse.up()


def viewer_count(page) -> int:
    return page.evaluate("fetch('/api/viewers').then((r) => r.json()).then((v) => v.length)")


def wait_for_viewers(page, count: int, timeout_s: float) -> float:
    """Seconds until ``GET /api/viewers`` lists ``count`` viewers (``inf``: it never did)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if viewer_count(page) == count:
            return time.monotonic() - started
        page.wait_for_timeout(200)
    return float("inf")


def play(page, url: str) -> float:
    """Open the page; seconds from load to the first decoded video frame."""
    started = time.monotonic()
    page.goto(url)
    page.wait_for_selector("#twin-rows tr", timeout=15_000)
    wait_for(page, PLAYING, timeout_ms=20_000)
    return time.monotonic() - started


def session(out: Path, url: str) -> dict:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        first_frame_s = play(page, url)
        frames_before = page.evaluate(f"{VIDEO}.getVideoPlaybackQuality().totalVideoFrames")
        early = video_pixels(page)
        page.wait_for_timeout(FPS_WINDOW_MS)
        frames = page.evaluate(f"{VIDEO}.getVideoPlaybackQuality().totalVideoFrames")
        late = video_pixels(page)
        page.screenshot(path=str(out / "overview.png"))
        legend = page.locator("#legend li").all_inner_texts()
        places = page.locator("#legend-places li").all_inner_texts()

        rows = page.locator("#twin-rows tr")
        followed = int(rows.nth(0).get_attribute("data-id"))
        rows.nth(0).click()
        page.wait_for_selector("#detail:not([hidden])", timeout=10_000)
        page.wait_for_timeout(1500)
        before = video_pixels(page)
        for _ in range(3):  # far past the edge of the town
            pan(page, dx_px=-900)
        page.wait_for_timeout(1500)
        after = video_pixels(page)

        page.click("#follow")  # back to the twin, then down to street level
        box = page.locator("#video").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(ZOOM_STEPS):
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(20)
        page.click("#pause")
        page.wait_for_timeout(1500)
        rows.nth(1).click()  # select another twin: the camera stays where the first one stands
        wait_for(page, "(id) => document.getElementById('d-id').textContent !== id", str(followed))
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "street.png"))
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        wait_for(  # raises unless the click selected the twin under it
            page, "(id) => document.getElementById('d-id').textContent === id", str(followed), 5_000
        )
        page.click("#resume")  # paused, the simulation publishes no vitals
        page.wait_for_timeout(2500)
        live = page.locator("#live-rate").inner_text()
        today = page.locator("#d-today").inner_text()
        page.screenshot(path=str(out / "viewer.png"))

        page.fill("#scale-input", "1e9")  # beyond the simulation's range: a 422 to show
        page.click("#scale-form button")
        wait_for(page, "() => document.getElementById('notice').textContent !== ''")
        refused = page.locator("#notice").inner_text()
        stats = page.evaluate("fetch('/api/stats').then((r) => r.json())")

        second = browser.new_page(viewport={"width": 1200, "height": 900})
        second_first_frame_s = play(second, url)
        both = viewer_count(page)
        second.close()  # the tab goes away
        cleaned_s = wait_for_viewers(page, 1, 30)
        browser.close()
    return {
        "first_frame_s": first_frame_s,
        "video_fps": (frames - frames_before) / (FPS_WINDOW_MS / 1000),
        "twins_in_view": twin_pixels(before),
        "twins_in_view_after_pan": twin_pixels(after),
        "video_lit": float(before[..., :3].mean()),
        "video_changed_over_time": float(np.abs(late - early).max()),
        "legend": legend,
        "places": places,
        "bad_time_scale_notice": refused,
        "time_scale_after_refusal": stats["time_scale"],
        "live_updates_per_s": int(live.split()[0]) if live else 0,
        "today_shown": "mean HR" in today,
        "second_viewer_first_frame_s": second_first_frame_s,
        "viewers_with_two_tabs": both,
        "closed_tab_removed_after_s": cleaned_s,
        # Chromium logs the deliberately refused time scale as a failed resource load
        "console_errors": [e for e in errors if "status of 422" not in e],
    }


def login_session(out: Path, url: str, tokens: dict[str, str]) -> dict:
    """Closed access: the form, a wrong token, a viewer's token, sign out, an analyst's link."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        wait_for(page, SHOWN, "#login", 15_000)
        rows_before = page.locator("#twin-rows tr").count()
        page.screenshot(path=str(out / "login.png"))
        page.fill("#login-token", "st_00000000_" + "x" * 43)
        page.click("#login-submit")
        wait_for(page, "() => document.getElementById('login-error').textContent !== ''")
        refused = page.locator("#login-error").inner_text()

        page.fill("#login-token", tokens["viewer"])
        viewer_first_frame_s = _sign_in(page)
        viewer = {
            "role": page.locator("#role").inner_text(),
            "cookie_visible_to_scripts": tokens["viewer"] in page.evaluate("document.cookie"),
            "controls_hidden": page.evaluate(HIDDEN, "#controls"),
        }
        page.locator("#twin-rows tr").nth(0).click()
        wait_for(page, SHOWN, "#detail-denied", 5_000)
        viewer["health_hidden"] = page.evaluate(HIDDEN, "#health")
        viewer["chat_visible"] = page.is_visible("#chat")
        page.click("#logout")
        wait_for(page, SHOWN, "#login", 15_000)

        page.goto(f"{url}/?token={tokens['analyst']}&x=1")
        analyst_first_frame_s = _sign_in(page, submit=False)
        address = page.evaluate("location.href")
        analyst_role = page.locator("#role").inner_text()
        page.locator("#twin-rows tr").nth(0).click()
        wait_for(page, SHOWN, "#health", 5_000)
        page.wait_for_timeout(3000)
        live = page.locator("#live-rate").inner_text()
        chat = talk(page, ["what is your heart rate?", "and your blood pressure?"])
        page.screenshot(path=str(out / "analyst.png"))
        browser.close()
    return {
        "rows_before_login": rows_before,
        "wrong_token_error": refused,
        "viewer": viewer,
        "viewer_first_frame_s": viewer_first_frame_s,
        "analyst_role": analyst_role,
        "address_after_link": address,
        "analyst_first_frame_s": analyst_first_frame_s,
        "analyst_live_updates_per_s": int(live.split()[0]) if live else 0,
        "chat": chat,
        # the page asks before it signs in: Chromium logs each 401 as a failed resource load
        "console_errors": [e for e in errors if "status of 401" not in e],
    }


HISTORY_WORLD = {"twins": 50, "seed": 3, "start": "2026-03-02T08:00"}
"""The world of the history session: what ``twin simulate`` wrote up to the day before."""
HISTORY_DAYS = 7
HISTORY_STEP_S = 300
"""Simulated seconds a tick of that run: coarse, so that the week takes seconds of CPU."""
LEGEND_TIME = "(i) => document.querySelectorAll('{} .u-legend .u-series:first-child .u-value')[i]"
ROWS = "(n) => document.querySelectorAll('{}').length >= n"
ONE_DAY_OF_ALERTS = "/last 1 simulated day|at most 0 a query/"
LIVE_HR = "document.querySelector('#charts .u-series:nth-child(2) .u-value')"
SIM_TIME_MS = (
    "Date.parse(document.getElementById('sim-time').textContent.slice(4, 23).replace(' ', 'T')"
    " + 'Z')"
)
"""The header's simulated time ('Mon 2026-03-02 08:00:00') as UTC milliseconds."""


def sim_ms(header: str) -> float:
    """The header's simulated time as ``SIM_TIME_MS`` reads it."""
    return (
        datetime.strptime(header[4:23], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() * 1000
    )


def simulate_store(out: Path) -> Path:
    """A headless run of ``HISTORY_DAYS`` days before ``HISTORY_WORLD`` starts, kept in a health
    record (``twin simulate --store``, the real command); the store's path."""
    store = out / "health.duckdb"
    first = date.fromisoformat(HISTORY_WORLD["start"][:10]) - timedelta(days=HISTORY_DAYS)
    command = [sys.executable, "-m", "synthtwin.engine.app.cli", "simulate",
               "--twins", str(HISTORY_WORLD["twins"]), "--seed", str(HISTORY_WORLD["seed"]),
               "--days", str(HISTORY_DAYS), "--step-s", str(HISTORY_STEP_S),
               "--start", first.isoformat(), "--out",
               str(out / "sim"), "--store", str(store), "--quiet"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=150)
    return store


def legend_text(page, selector: str, index: int = 0) -> str:
    """The text of the ``index``-th legend time value of the charts under ``selector``."""
    return page.evaluate(f"(i) => ({LEGEND_TIME.format(selector)})(i).textContent", index)


def too_many_alerts(page) -> str:
    """The alerts panel's counts once the server (in this process) answers at most 0 alerts a
    query: the page asks over fewer days, down to one, and says which (or why not)."""
    limit = health_query.MAX_ALERTS
    health_query.MAX_ALERTS = 0
    try:  # a scope changed there and back: the panel asks now, not at its next 10 s refresh
        page.select_option("#alerts-scope", "twin")
        page.select_option("#alerts-scope", "all")
        wait_for(page, f"() => {ONE_DAY_OF_ALERTS}.test(document.getElementById('alert-counts')"
                       ".textContent)", None, 25_000)  # fmt: skip
        return page.inner_text("#alert-counts")
    finally:
        health_query.MAX_ALERTS = limit


def scenario_controls(page) -> dict:
    """Start a mild illness on the shown twin from the page's form and stop it with its list's
    button (an operator: the open session's role); the list's texts after each, and once the
    history is asked again (from the record)."""
    page.select_option("#scenario-kind", "illness")
    page.fill("#scenario-days", "2")
    page.fill("#scenario-args", '{"severity": "mild"}')
    page.click("#scenario-form button")
    wait_for(page, ROWS.format("#scenario-rows li button.stop"), 1, 10_000)
    started = page.locator("#scenario-rows li").all_inner_texts()
    page.locator("#scenario-rows li button.stop").nth(0).click()
    wait_for(page, "() => /stopped/.test(document.getElementById('scenario-rows').textContent)")
    stopped = page.locator("#scenario-rows li").all_inner_texts()
    page.select_option("#history-days", "14")  # the list from the record (``/history``) now
    page.select_option("#history-days", "28")
    page.wait_for_timeout(1000)
    recorded = page.locator("#scenario-rows li").all_inner_texts()
    page.evaluate("window.scrollTo(0, 0)")  # the clicks scrolled; no chart under the mouse
    page.mouse.move(0, 0)
    return {"started": started, "stopped": stopped, "recorded": recorded,
            "form_shown": page.is_visible("#scenario-form")}  # fmt: skip


def history_session(out: Path, url: str) -> dict:
    """A twin's weeks from the stored record, the day timeline, the alerts panel, the groups,
    the live charts on simulated time at x1 and x3600, and ``/docs`` with no network at all."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_selector("#twin-rows tr", timeout=15_000)
        list_texts = page.locator("#twin-rows tr").nth(0).inner_text()
        wait_for(page, ROWS.format("#alert-rows li"), 1, 15_000)
        alerts = page.locator("#alert-rows li").all_inner_texts()
        twin = int(page.locator("#alert-rows li button[data-twin]").nth(0).get_attribute(
            "data-twin"))  # fmt: skip
        page.locator("#alert-rows li .ack").nth(0).click()
        wait_for(page, ROWS.format("#alert-rows li.acked"), 1, 10_000)
        page.locator(f"#alert-rows li button[data-twin='{twin}']").nth(0).click()
        wait_for(page, "(t) => document.getElementById('d-id').textContent === t", str(twin))
        wait_for(page, "() => /days recorded/.test(document.getElementById('history-note')"
                       ".textContent)", None, 15_000)  # fmt: skip
        wait_for(page, ROWS.format("#timeline-legend li"), 2, 15_000)
        scenarios = scenario_controls(page)
        wait_for(page, PLAYING, timeout_ms=30_000)
        box = page.locator("#video").bounding_box()
        page.mouse.click(box["x"] + 4, box["y"] + 4)  # the far corner: nobody there
        page.wait_for_timeout(1500)
        (viewer,) = page.evaluate("fetch('/api/viewers').then((r) => r.json())")
        kept = {"shown": page.locator("#d-id").inner_text(), "server": viewer["selected"]}
        wait_for(page, f"() => /\\d/.test({LIVE_HR}.textContent)", None, 15_000)  # live samples
        header = page.locator("#sim-time").inner_text()
        live = {"time": legend_text(page, "#charts"), "window": page.inner_text("#live-window"),
                "hr": page.evaluate(f"{LIVE_HR}.textContent")}  # fmt: skip
        history = {
            "note": page.inner_text("#history-note"),
            "last_day_time": legend_text(page, "#trend-charts"),
            "resting_hr": page.evaluate("document.querySelector('#trend-charts .u-series:"
                                        "nth-child(2) .u-value').textContent"),
            "days": page.locator("#timeline-day option").all_inner_texts(),
            "timeline": page.locator("#timeline-legend li").all_inner_texts(),
        }  # fmt: skip
        page.fill("#scale-input", "3600")
        page.click("#scale-form button")
        wait_for(page, "() => document.getElementById('time-scale').textContent === '×3600'")
        wait_for(page, f"(t) => {SIM_TIME_MS} - t > 3600e3", sim_ms(header), 20_000)  # an hour on
        fast = {
            "header": page.locator("#sim-time").inner_text(),
            "time": legend_text(page, "#charts"),
            "window": page.inner_text("#live-window"),
        }
        page.select_option("#pop-group", "sex")
        wait_for(page, "() => /female/.test(document.getElementById('pop-chart').textContent)")
        groups = page.locator("#pop-chart .u-legend .u-series").all_inner_texts()
        crowded = too_many_alerts(page)
        page.screenshot(path=str(out / "history.png"), full_page=True)
        docs = browser.new_page()
        docs.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        docs.goto(f"{url}/docs")
        docs.wait_for_selector(".opblock", timeout=30_000)
        operations = docs.locator(".opblock").count()
        docs.screenshot(path=str(out / "docs.png"))
        browser.close()
    return {"first_row": list_texts, "alerts": alerts, "twin": twin, "header": header,
            "live": live, "history": history, "kept": kept, "fast": fast, "groups": groups,
            "crowded": crowded, "docs_operations": operations, "scenarios": scenarios,
            "console_errors": [e for e in errors if "status of 422" not in e]}  # fmt: skip


def talk(page, messages: list[str]) -> list[dict]:
    """Send each message in the chat panel and wait for its reply: the reply's text, the facts
    of its tooltip, and what the panel says it was about."""
    said = []
    for count, message in enumerate(messages, start=1):
        page.fill("#chat-input", message)
        page.click("#chat-send")
        wait_for(page, CHAT_REPLIES, count, 10_000)
        line = page.locator("#chat-log .chat-twin").nth(count - 1)
        about = page.locator("#chat-about").inner_text()
        said.append({"reply": line.inner_text(), "facts": line.get_attribute("title"),
                     "about": about})  # fmt: skip
    return said


def _sign_in(page, submit: bool = True) -> float:
    """Submit the login form (or wait for a link's sign-in); seconds to the first video frame."""
    started = time.monotonic()
    if submit:
        page.click("#login-submit")
    wait_for(page, HIDDEN, "#login", 10_000)
    page.wait_for_selector("#twin-rows tr", timeout=15_000)
    wait_for(page, PLAYING, timeout_ms=20_000)
    return time.monotonic() - started


def closed_access(out: Path) -> dict[str, str]:
    """A fresh token file beside the checkpoint in ``out`` (``twin serve`` then needs tokens):
    a viewer's and an analyst's token, by role name."""
    (out / "tokens.json").unlink(missing_ok=True)
    store = TokenStore(out / "tokens.json")
    return {role.label: store.create(role, role.label) for role in (Role.VIEWER, Role.ANALYST)}


def main() -> None:
    login = "--login" in sys.argv[2:]
    stored = "--history" in sys.argv[2:]
    # the open session has no token file; the history session a fresh store
    out = Path(sys.argv[1]) / ("login" if login else "history" if stored else "")
    out.mkdir(parents=True, exist_ok=True)
    tokens = closed_access(out) if login else {}
    security = {"health_pub_endpoint": loopback(), "keys_dir": out / "keys"} if login else None
    if stored:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        history = {"path": simulate_store(out)}
        server, thread = start_server(out, None, history, **HISTORY_WORLD)
    else:
        server, thread = start_server(out, security)
    try:
        deadline = time.monotonic() + 30
        while server.sim.world.tick < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        if login:
            findings = login_session(out, server.http.url, tokens)
        elif stored:
            findings = history_session(out, server.http.url)
        else:
            findings = session(out, server.http.url)
    finally:
        server.stop.set()
        thread.join(timeout=30)
    print(json.dumps(findings))


if __name__ == "__main__":
    main()
