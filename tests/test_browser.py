"""The web page in a real browser: Debian's Chromium, driven by Playwright, against a real server,
both inside a loopback-only network namespace (shared/notes/webrtc-in-tests.md).

The session itself is ``tests/browser_session.py``; its screenshots are kept in ``artifacts/``.
"""

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from synthtwin.net.chat import numbers_in

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path("/usr/lib/chromium/chromium")


def browser_session(*options: str, timeout_s: float = 240) -> dict:
    """Run ``tests.browser_session`` with ``options`` in a loopback-only network namespace; its
    findings."""
    assert CHROMIUM.exists(), "Debian's chromium is missing: run `bash .ci/setup --test` as root"
    command = " ".join(
        ["ip link set lo up && exec", sys.executable, "-m tests.browser_session", str(ARTIFACTS),
         *options]
    )  # fmt: skip
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_page_plays_pans_zooms_picks_a_twin_and_keeps_two_viewers_apart():
    findings = browser_session()
    assert findings["first_frame_s"] < 10
    assert findings["video_fps"] > 5
    assert findings["video_lit"] > 5, "the video stayed black"
    assert findings["video_changed_over_time"] > 24, "the video is a still picture"
    assert findings["twins_in_view"] > 0.001, "no twin is drawn in the video"
    assert findings["twins_in_view_after_pan"] < findings["twins_in_view"] / 4, (
        "dragging the video far past the town did not move the camera"
    )
    legend, places = findings["legend"], findings["places"]
    assert "sleep" in legend and "watching TV" in legend and "park" in places, (legend, places)
    assert legend.count("school") == 1 and places.count("school") == 1, "school twice in a list"
    assert findings["live_updates_per_s"] >= 5, "the selected twin's vitals are not live"
    assert findings["today_shown"]
    assert "scale" in findings["bad_time_scale_notice"], findings["bad_time_scale_notice"]
    assert findings["time_scale_after_refusal"] == 1.0
    assert findings["second_viewer_first_frame_s"] < 10
    assert findings["viewers_with_two_tabs"] == 2
    assert findings["closed_tab_removed_after_s"] < 30
    assert findings["console_errors"] == []
    for name in ("overview.png", "street.png", "viewer.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000


def test_the_page_signs_in_with_a_token_and_shows_what_the_role_may_see():
    """Closed access (a token file): the login form first, a wrong token refused, a viewer's token
        in an HttpOnly cookie (no health data, no controls), sign out, an analyst's ``?token=`` link
        that leaves the address bar at once (live vitals on the video's data channel), and the
    analyst's chat with the selected twin: grounded replies, a follow-up (hidden for the viewer)."""
    findings = browser_session("--login")
    assert findings["rows_before_login"] == 0
    assert findings["wrong_token_error"] == "unknown or revoked token"
    viewer = findings["viewer"]
    assert viewer["role"] == "viewer" and viewer["controls_hidden"] and viewer["health_hidden"]
    assert not viewer["cookie_visible_to_scripts"], "the login cookie must be HttpOnly"
    assert findings["viewer_first_frame_s"] < 15
    assert findings["analyst_role"] == "analyst"
    assert findings["address_after_link"].endswith("/?x=1"), findings["address_after_link"]
    assert findings["analyst_first_frame_s"] < 15
    assert findings["analyst_live_updates_per_s"] >= 5, "an analyst's live vitals are missing"
    assert not viewer["chat_visible"], "the chat panel shows health data: analysts only"
    heart, pressure = findings["chat"]
    assert heart["reply"].startswith("twin ") and "vitals" in heart["about"], heart
    assert "hr_bpm = " in heart["facts"] and "(live)" in heart["facts"], heart
    for number in numbers_in(heart["reply"].partition(": ")[2]):
        assert f"= {number} " in heart["facts"], (number, heart)
    assert "sbp_mmhg = " in pressure["facts"], pressure
    assert findings["console_errors"] == []  # a CSP violation would be one
    assert (ARTIFACTS / "login" / "login.png").stat().st_size > 10_000


def test_the_page_browses_a_simulated_week_on_simulated_time_and_docs_work_offline():
    """A week simulated headless into a health record (``twin simulate --store``), then served:
    the alerts panel lists what the rules fired (and one is acknowledged), a twin's days are in
    its history with their baselines and the day timeline, a scenario is started and stopped
    from the page and listed, the charts' times are the simulation's
    (at x1 and at x3600), the groups split the population, and ``/docs`` renders Swagger UI with
    no network at all (the namespace has only loopback)."""
    findings = browser_session("--history", timeout_s=420)  # a week to simulate first
    history = findings["history"]
    days = history["days"]
    assert len(days) == 7 and days[0] == "2026-03-01" and days[-1] == "2026-02-23", days
    assert history["note"].startswith("7 days recorded"), history["note"]
    assert history["last_day_time"] == "Sun 2026-03-01 00:00", history["last_day_time"]
    assert float(history["resting_hr"]) > 30, "the trend legend shows no value"
    assert any(item.startswith("sleep ") for item in history["timeline"]), history["timeline"]
    assert findings["alerts"] and all(a[:10] in days for a in findings["alerts"]), findings
    scenarios = findings["scenarios"]  # started and stopped from the page (an operator's)
    assert scenarios["form_shown"], scenarios
    (started,) = scenarios["started"]
    assert re.match(r"#1 illness 2026-03-02T08:0\d to 2026-03-04T08:0\d severity=mild", started), (
        started
    )
    assert "(stopped)" in scenarios["stopped"][0] and "Stop" not in scenarios["stopped"][0]
    assert scenarios["recorded"] == scenarios["stopped"], scenarios  # as the record holds it
    assert f"twin {findings['twin']}" in findings["alerts"][0]
    kept = findings["kept"]  # a click on empty ground keeps the selection, here and on the server
    assert kept == {"shown": str(findings["twin"]), "server": findings["twin"]}, kept
    # the live charts on the simulated clock: Monday 2 March from 08:00, not the browser's time
    header = datetime.strptime(findings["header"][4:], "%Y-%m-%d %H:%M:%S")
    live = datetime.strptime(f"2026-03-02 {findings['live']['time']}", "%Y-%m-%d %H:%M")
    assert abs((live - header).total_seconds()) < 180, (findings["header"], findings["live"])
    assert findings["live"]["window"] == "(last 5 min of simulated time)"
    assert float(findings["live"]["hr"]) > 30, "the live legend shows no value"
    assert findings["fast"]["window"] == "(last 12.5 days of simulated time)", findings["fast"]
    fast = datetime.strptime(findings["fast"]["header"][4:], "%Y-%m-%d %H:%M:%S")
    assert fast - header > timedelta(minutes=30), "x3600 did not speed the clock up"
    assert any(g.startswith("female") for g in findings["groups"]), findings["groups"]
    # more alerts than the server gives in one answer: the panel asks over fewer days, and says so
    crowded = findings["crowded"]
    assert re.search(r"last 1 simulated day|at most 0 a query", crowded), crowded
    assert findings["docs_operations"] > 10, "Swagger UI did not render /docs offline"
    assert findings["console_errors"] == []
    for name in ("history.png", "docs.png"):
        assert (ARTIFACTS / "history" / name).stat().st_size > 10_000
