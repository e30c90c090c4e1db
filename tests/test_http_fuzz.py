"""A bounded schemathesis run over the REST API's OpenAPI document, against a real ``Serving``
with a token file (its gateway process included): valid and invalid calls of every operation,
each answered without a 5xx and as documented (status, content type, body schema). About 200
calls in all, well within a minute on two cores. Loopback only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402 (after the skip)
from hypothesis import strategies as st  # noqa: E402
from schemathesis.auths import AuthStorage  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from synthtwin.engine.app.serve import Serving  # noqa: E402
from synthtwin.engine.config import load_config  # noqa: E402
from synthtwin.net.auth import Role, TokenStore  # noqa: E402
from tests.loopback import loopback  # noqa: E402
from tests.test_http_api import running  # noqa: E402

EXAMPLES = 200
"""Calls in all, valid and invalid ones of every operation (15 of them)."""
TWINS = 100
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429"]
"""What a schema-valid call may get: besides schemathesis's defaults (without 5xx), 400 (an offer
that is a string but not SDP) and 422 (the simulation's ranges follow its settings, such as
``spawn_per_min`` and the time scale's limits, which the schema cannot state)."""
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}}
)


@pytest.fixture(scope="module")
def admin(tmp_path_factory) -> tuple[str, TokenStore]:
    store = TokenStore(tmp_path_factory.mktemp("fuzz") / "tokens.json")
    return store.create(Role.ADMIN, "fuzz"), store


@pytest.fixture(scope="module")
def serving(admin) -> Iterator[Serving]:
    token, store = admin
    serve = {
        "pub_endpoint": loopback(),
        "router_endpoint": loopback(),
        "http_port": 0,
        "checkpoint": store.path.parent / "w.ckpt",
    }
    security = {
        "health_pub_endpoint": loopback(),
        "keys_dir": store.path.parent / "keys",
        "rest_rate_per_s": 10_000.0,  # the fuzzer is one fast client
        "rest_burst": 10_000,
        "spawn_per_min": 500,  # spawns beyond are 429s, and the world stays small
    }
    config = load_config(None, serve=serve, security=security, twins=TWINS, seed=2)
    with running(config, token=token) as server:
        yield server


def test_every_operation_answers_as_documented_and_never_5xx(serving, admin):
    token, _ = admin
    api = schemathesis.openapi.from_url(f"{serving.http.url}/openapi.json", config=CONFIG)
    admin_auth = AuthStorage()

    @admin_auth.auth()
    class Admin:
        """The admin's bearer token on every call (schemathesis's ignored-auth check then tries
        each call again without it, and with a bad one, and expects a 401)."""

        def get(self, case, context) -> str:
            return token

        def set(self, case, data: str, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    cases = st.one_of(*(api.as_strategy(mode, auth_storage=admin_auth) for mode in GenerationMode))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def call(case) -> None:
        case.call_and_validate()

    call()
