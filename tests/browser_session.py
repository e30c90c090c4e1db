"""One viewer session in Debian's Chromium against a real server: run inside a loopback-only
network namespace by ``tests/test_browser.py`` (see shared/notes/webrtc-in-tests.md).

Usage: ``python -m tests.browser_session OUT_DIR``; prints one JSON line of findings and saves
screenshots into OUT_DIR.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from tests.loopback import free_port, loopback

CHROMIUM = "/usr/lib/chromium/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--allow-loopback-in-peer-connection",
]  # fmt: skip
VIDEO = "document.getElementById('video')"
FPS_WINDOW_MS = 3000
MORNING = "2026-03-02T08:00"
"""A Monday's commute: twins on the move, for a picture that changes and reproducible shots."""
ZOOM_STEPS = 45
"""Wheel notches (x1.2 each) from the town overview down to a few metres."""


def start_server(out: Path) -> tuple[Serving, threading.Thread]:
    settings = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
                "http_port": free_port(), "checkpoint": out / "w.ckpt",
                "webrtc_host_addresses": ["127.0.0.1"]}  # fmt: skip
    config = load_config(None, serve=settings, twins=300, seed=4, tick_hz=30, start=MORNING)
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
    page.wait_for_function(f"{VIDEO}.videoWidth > 0 && {VIDEO}.currentTime > 0", timeout=20_000)
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
        page.wait_for_function(f"document.getElementById('d-id').textContent !== '{followed}'")
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "street.png"))
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function(  # raises unless the click selected the twin under it
            f"document.getElementById('d-id').textContent === '{followed}'", timeout=5_000
        )
        page.click("#resume")  # paused, the simulation publishes no vitals
        page.wait_for_timeout(2500)
        live = page.locator("#live-rate").inner_text()
        today = page.locator("#d-today").inner_text()
        page.screenshot(path=str(out / "viewer.png"))

        page.fill("#scale-input", "1e9")  # beyond the simulation's range: a 422 to show
        page.click("#scale-form button")
        page.wait_for_function("document.getElementById('notice').textContent !== ''")
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


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    server, thread = start_server(out)
    try:
        deadline = time.monotonic() + 30
        while server.sim.world.tick < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        findings = session(out, server.http.url)
    finally:
        server.stop.set()
        thread.join(timeout=30)
    print(json.dumps(findings))


if __name__ == "__main__":
    main()
