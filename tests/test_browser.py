"""The web page in a real browser: Debian's Chromium, driven by Playwright, against a real server,
both inside a loopback-only network namespace (shared/notes/webrtc-in-tests.md).

The session itself is ``tests/browser_session.py``; its screenshots are kept in ``artifacts/``.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path("/usr/lib/chromium/chromium")


def test_the_page_plays_pans_zooms_picks_a_twin_and_keeps_two_viewers_apart():
    assert CHROMIUM.exists(), "Debian's chromium is missing: run `bash .ci/setup --test` as root"
    command = f"ip link set lo up && exec {sys.executable} -m tests.browser_session {ARTIFACTS}"
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    findings = json.loads(done.stdout.strip().splitlines()[-1])
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
