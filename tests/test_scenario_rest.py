"""Scenarios over REST, end to end against a real ``Serving`` with a token file (its gateway
process included, loopback only): start, list and stop a twin's scenarios as an operator; a
viewer and an analyst refused; bad input answered 4xx with the server's short message, never
500, and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.auth import Role, TokenStore
from tests.loopback import loopback
from tests.test_http_access import a_twin, as_role
from tests.test_http_api import running


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, str]:
    """The folder's token file holds one token of each role, by role name."""
    tokens = TokenStore(tmp_path_factory.mktemp("scenarios") / "tokens.json")
    return {"folder": str(tokens.path.parent)} | {
        role.label: tokens.create(role, role.label) for role in Role
    }


@pytest.fixture(scope="module")
def serving(made: dict[str, str]) -> Iterator[Serving]:
    folder = made["folder"]
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_port": 0,
             "checkpoint": f"{folder}/w.ckpt"}  # fmt: skip
    config = load_config(None, serve=serve, twins=20, seed=5)
    with running(config, token=made["admin"]) as server:
        yield server


def test_an_operator_starts_lists_and_stops_a_twins_scenarios(serving, made):
    twin = a_twin(serving, made["viewer"])
    path = f"/api/twins/{twin}/scenarios"
    with as_role(serving, made["operator"]) as api:
        started = api.post(path, json={"kind": "medication", "days": 14,
                                       "drug": "antihypertensive", "classes": 2})  # fmt: skip
        assert started.status_code == 200, started.text
        scenario = started.json()["scenario"]
        assert (scenario["twin"], scenario["kind"], scenario["state"]) == (
            twin, "medication", "active"
        )  # fmt: skip
        assert scenario["args"] == {"drug": "antihypertensive", "classes": 2}
        listed = api.get(path).json()["scenarios"]
        assert [s["id"] for s in listed] == [scenario["id"]]
        stopped = api.delete(f"{path}/{scenario['id']}")
        assert stopped.status_code == 200 and stopped.json()["scenario"]["stopped"]
        assert api.get(path).json()["scenarios"][0]["state"] == "ended"


def test_viewers_and_analysts_may_not_touch_scenarios(serving, made):
    twin = a_twin(serving, made["viewer"])
    path = f"/api/twins/{twin}/scenarios"
    for role in ("viewer", "analyst"):
        with as_role(serving, made[role]) as api:
            assert api.get(path).status_code == 403
            assert api.post(path, json={"kind": "illness", "days": 1}).status_code == 403
            assert api.delete(f"{path}/1").status_code == 403
    with as_role(serving, None) as nobody:
        assert nobody.get(path).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"kind": "medication", "days": 2}, 400, "missing field 'args.drug'"),
        ({"kind": "illness", "days": 2, "start": "soon"}, 400,
         "args.start 'soon': expected a simulated local time YYYY-MM-DDTHH:MM:SS"),
        ({"kind": "illness", "days": 2, "start": "2000-01-01T00:00:00"}, 422, None),
        ({"kind": "flu", "days": 2}, 422, None),
        ({"kind": "illness", "days": 0}, 422, None),
        ({"kind": "illness", "days": 2, "colour": "red"}, 422, None),
        ({"kind": "exercise", "days": 2, "factor": "2"}, 422, None),
    ],
)  # fmt: skip
def test_bad_input_is_4xx_and_changes_nothing(serving, made, body, status, detail):
    twin = a_twin(serving, made["viewer"])
    path = f"/api/twins/{twin}/scenarios"
    with as_role(serving, made["operator"]) as api:
        before = api.get(path).json()["scenarios"]
        answer = api.post(path, json=body)
        assert answer.status_code == status, answer.text
        if detail is not None:
            assert answer.json()["detail"] == detail
        assert api.get(path).json()["scenarios"] == before


def test_unknown_twins_and_scenarios_are_4xx(serving, made):
    with as_role(serving, made["operator"]) as api:
        assert api.post("/api/twins/999999/scenarios", json={"kind": "illness", "days": 1}
                        ).status_code == 404  # fmt: skip
        answer = api.delete("/api/twins/1/scenarios/777")
        assert answer.status_code == 422 and answer.json()["detail"] == "no scenario 777 of twin 1"
        assert api.get("/api/twins/1/scenarios/x").status_code in (404, 405)
        assert isinstance(api.get("/api/twins/1/scenarios").json()["scenarios"], list)


def test_the_openapi_documents_the_scenario_routes(serving):
    with httpx.Client(base_url=serving.http.url, timeout=10.0) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/twins/{twin_id}/scenarios"]) == {"get", "post"}
    assert set(paths["/api/twins/{twin_id}/scenarios/{scenario_id}"]) == {"delete"}
