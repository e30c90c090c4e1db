"""The history API: a store written by ``twin simulate --store``, served by ``twin serve`` and read
through the ROUTER's ``history`` op and the REST routes; bad parameters get clear 4xx answers.

Real ZeroMQ sockets and HTTP on 127.0.0.1, a real DuckDB file, the real gateway process.
"""

from __future__ import annotations

import threading
from datetime import datetime

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from synthtwin.engine.app.cli import main
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.wire import reply
from tests.loopback import free_port, loopback
from tests.test_serve import ask

TWINS = 8
FIRST, LAST = "2026-03-02", "2026-03-03"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two simulated days of ``TWINS`` twins in a store, served from the next midnight on."""
    tmp = tmp_path_factory.mktemp("history")
    store = tmp / "health.duckdb"
    rules = tmp / "rules.toml"  # every day with a resting HR fires resting_tachycardia
    rules.write_text("[alerts]\ntachycardia_bpm = 1.0\n")
    argv = ["simulate", "--twins", str(TWINS), "--days", "2", "--step-s", "300", "--quiet",
            "--start", FIRST, "--out", str(tmp / "out"), "--store", str(store),
            "--config", str(rules)]  # fmt: skip
    assert main(argv) == 0
    config = load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "http_port": free_port(), "checkpoint": tmp / "w.ckpt"},
        history={"path": store},
        twins=TWINS, start=datetime(2026, 3, 4),
    )  # fmt: skip
    serving = Serving(config)
    thread = threading.Thread(target=serving.run, name="serve")
    thread.start()
    daily = pq.read_table(tmp / "out" / "daily.parquet").to_pydict()
    try:
        with httpx.Client(base_url=serving.http.url, timeout=10.0) as client:
            yield serving, client, daily
    finally:
        serving.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def _twin_days(daily: dict, twin: int) -> list[int]:
    return [s for t, s in zip(daily["twin_id"], daily["steps"], strict=True) if t == twin]


def test_the_router_answers_a_twins_daily_history(served):
    serving, _, daily = served
    twin = int(daily["twin_id"][0])
    router = serving.server.endpoints["router"]
    answer = ask(router, "history", query="history", id=twin, **{"from": FIRST, "to": LAST})
    assert answer.ok, answer.error
    columns = answer.result["columns"]
    assert columns["day"] == [FIRST, LAST]
    assert columns["steps"].tolist() == _twin_days(daily, twin)
    assert answer.result["resolution"] == "day" and answer.result["twin_id"] == twin


def test_rest_minute_and_hour_history_timeline_and_population(served):
    _, client, daily = served
    twin = int(daily["twin_id"][1])
    minutes = client.get(
        f"/api/twins/{twin}/history", params={"from": LAST, "to": LAST, "resolution": "minute"}
    )
    assert minutes.status_code == 200, minutes.text
    t = minutes.json()["columns"]["t"]
    assert len(t) == 288 and (t[0], t[-1]) == (f"{LAST}T00:00:00", f"{LAST}T23:55:00")
    hours = client.get(f"/api/twins/{twin}/history", params={"from": LAST, "resolution": "hour",
                                                             "to": LAST})  # fmt: skip
    assert hours.status_code == 200 and len(hours.json()["columns"]["t"]) == 24
    day = client.get(f"/api/twins/{twin}/timeline", params={"date": LAST})
    assert day.status_code == 200, day.text
    episodes = day.json()["episodes"]
    assert episodes["start"][0] == f"{LAST}T00:00:00" and episodes["end"][-1] <= f"{LAST}T24"
    assert all(a == b for a, b in zip(episodes["end"], episodes["start"][1:], strict=False))
    groups = client.get("/api/population/daily", params={"from": FIRST, "to": LAST,
                                                         "group_by": "sex"})  # fmt: skip
    assert groups.status_code == 200, groups.text
    body = groups.json()
    assert body["groups"] == ["female", "male"]
    per_day = {}
    for d, n in zip(body["columns"]["day"], body["columns"]["twins"], strict=True):
        per_day[d] = per_day.get(d, 0) + n
    assert per_day == {FIRST: TWINS, LAST: TWINS}
    mean_steps = np.average(body["columns"]["steps"][:2], weights=body["columns"]["twins"][:2])
    first_day = [s for d, s in zip(daily["day"], daily["steps"], strict=True) if str(d) == FIRST]
    assert mean_steps == pytest.approx(np.mean(first_day), rel=1e-5)


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/twins/1/history", {"resolution": "week"}, 422, "resolution"),
        ("/api/twins/1/history", {"from": "2026-13-01"}, 422, "from"),
        ("/api/twins/1/history", {"from": LAST, "to": FIRST}, 422, "is before 'from'"),
        ("/api/twins/1/history", {"from": "2026-01-01", "to": LAST, "resolution": "minute"},
         422, "at most 7 at this resolution"),
        ("/api/twins/4000000/history", {}, 404, "twin 4000000 has no health record"),
        ("/api/twins/1/timeline", {"date": "tomorrow"}, 422, "date"),
        ("/api/population/daily", {"group_by": "hair"}, 422, "group_by"),
    ],
)  # fmt: skip
def test_bad_parameters_get_a_clear_4xx(served, path, params, status, message):
    _, client, _ = served
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert message in answer.text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ({"query": "history", "id": 1, "from": "yesterday"}, reply.BAD_REQUEST, "YYYY-MM-DD"),
        ({"query": "history", "id": "1"}, reply.BAD_REQUEST, "'args.id'"),
        ({"query": "everything"}, reply.OUT_OF_RANGE, "args.query 'everything'"),
        ({"query": "history", "id": -1}, reply.OUT_OF_RANGE, "args.id -1"),
        ({"query": "population", "group_by": "hair"}, reply.OUT_OF_RANGE, "group_by 'hair'"),
    ],
)
def test_the_router_refuses_bad_args_with_their_code(served, args, code, message):
    serving, _, _ = served
    answer = ask(serving.server.endpoints["router"], "history", **args)
    assert not answer.ok and answer.error.code == code and message in answer.error.message


def test_twin_history_cli_prints_csv_writes_parquet_and_reports_refusals(served, capsys, tmp_path):
    serving, _, daily = served
    twin = int(daily["twin_id"][2])
    router = ["--router", serving.server.endpoints["router"]]
    assert main(["history", str(twin), "--days", "2", "--to", LAST, "--csv", *router]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('"day","weekday"') and len(lines) == 3
    assert [int(line.split(",")[14]) for line in lines[1:]] == _twin_days(daily, twin)
    out = tmp_path / "day.parquet"
    argv = ["history", str(twin), "--days", "1", "--to", LAST, "--resolution", "minute",
            "--parquet", "--out", str(out), *router]  # fmt: skip
    assert main(argv) == 0
    assert pq.read_table(out).num_rows == 288
    assert main(["history", str(twin), "--days", "2", *router]) == 0  # to the server's today
    shown = capsys.readouterr().out  # 03-03 and 03-04 (not closed yet: no row)
    assert LAST in shown and FIRST not in shown and "resting_hr" in shown.splitlines()[0]
    assert main(["history", str(twin), "--days", "1", "--to", "2020-01-01", *router]) == 0
    assert "nothing recorded in that range yet" in capsys.readouterr().out
    assert main(["history", "4000000", *router]) == 2
    assert "unknown_twin: twin 4000000 has no health record" in capsys.readouterr().err


def test_rest_baselines_are_the_days_before(served):
    _, client, daily = served
    twin = int(daily["twin_id"][3])
    answer = client.get(f"/api/twins/{twin}/baselines", params={"from": FIRST, "to": LAST})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    steps = _twin_days(daily, twin)
    assert body["columns"]["steps"] == steps
    assert body["columns"]["steps_7d"] == [None, steps[0]]  # nothing before the first day
    assert body["trends"]["steps"] == {"slope_per_day": None, "change": None, "days": 2,
                                       "direction": "flat"}  # fmt: skip


def test_rest_lists_alerts_with_counts_and_acknowledges_them(served):
    _, client, daily = served
    listed = client.get("/api/alerts", params={"from": FIRST, "to": LAST})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    rested = sum(r is not None and r == r for r in daily["resting_hr"])  # not NaN
    assert body["counts"]["resting_tachycardia"] == rested
    assert sum(body["counts"].values()) == len(body["columns"]["alert_id"])
    first = body["columns"]["alert_id"][0]
    twin = body["columns"]["twin_id"][0]
    acked = client.post(f"/api/alerts/{first}/ack", json={})
    assert acked.status_code == 200 and acked.json() == {"alert_id": first, "acknowledged": True}
    mine = client.get("/api/alerts", params={"from": FIRST, "to": LAST, "twin": twin}).json()
    assert set(mine["columns"]["twin_id"]) == {twin}
    assert mine["columns"]["acknowledged"][mine["columns"]["alert_id"].index(first)] == 1
    missing = client.post("/api/alerts/999999/ack", json={})
    assert missing.status_code == 422 and "no alert 999999" in missing.text


def test_dates_at_the_ends_of_the_calendar_are_answered_never_a_500(served, capsys):
    """A range reaching back past year 1 is cut there (empty, 200); a last day of 9999-12-31
    (whose next midnight does not exist) is refused with 422: no OverflowError, no 500."""
    serving, client, daily = served
    twin = int(daily["twin_id"][0])
    for path, params in [
        (f"/api/twins/{twin}/history", {"to": "0001-01-05"}),
        (f"/api/twins/{twin}/baselines", {"from": "0001-01-05", "to": "0001-01-06"}),
        ("/api/alerts", {"to": "0001-01-02"}),
        ("/api/population/daily", {"to": "0001-01-01"}),
        (f"/api/twins/{twin}/timeline", {"date": "9999-12-30"}),
    ]:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, (path, answer.text)
    for path, params in [
        (f"/api/twins/{twin}/history", {"to": "9999-12-31", "resolution": "minute"}),
        (f"/api/twins/{twin}/timeline", {"date": "9999-12-31"}),
    ]:
        answer = client.get(path, params=params)
        assert answer.status_code == 422, (path, answer.text)
        assert "expected a day before 9999-12-31" in answer.text
    router = ["--router", serving.server.endpoints["router"]]
    assert main(["history", str(twin), "--to", "0001-01-02", "--days", "5", *router]) == 0
    assert main(["history", str(twin), "--days", "1000000000", "--to", LAST, *router]) == 2
    assert "days asked, at most 3660" in capsys.readouterr().err
