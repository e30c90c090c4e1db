"""The web page in a real browser: Debian's Chromium, driven by Playwright, against a real server,
both inside a loopback-only network namespace (shared/notes/webrtc-in-tests.md).

The session itself is ``tests/browser_session.py``; its screenshots are kept in ``artifacts/``.
"""

import json
import subprocess
import sys
from pathlib import Path

from synthtwin.net.chat import numbers_in

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path("/usr/lib/chromium/chromium")


def browser_session(*options: str) -> dict:
    """Run ``tests.browser_session`` with ``options`` in a loopback-only network namespace; its
    findings."""
    assert CHROMIUM.exists(), "Debian's chromium is missing: run `bash .ci/setup --test` as root"
    command = " ".join(
        ["ip link set lo up && exec", sys.executable, "-m tests.browser_session", str(ARTIFACTS),
         *options]
    )  # fmt: skip
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
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
    assert "sleep" in findings["legend"] and "park" in findings["legend"], findings["legend"]
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
