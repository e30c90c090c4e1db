"""The ``scenario`` op on the wire: golden vectors (valid and invalid, with exact errors) and every
truncation of a valid payload refused with a decode error."""

from __future__ import annotations

import json

import msgpack
import pytest

from synthtwin.components.scenario import ScenarioError
from synthtwin.net.wire.errors import WireError
from tests.golden.scenario.make_golden import DECODERS, HERE, build_cases
from tests.golden.wire.make_golden import assert_current, dumps, to_json

CASES = sorted(p.name for p in HERE.glob("*.json"))


def test_golden_files_are_current():
    assert_current(HERE, build_cases())


@pytest.mark.parametrize("name", [c for c in CASES if not c.startswith("invalid_")])
def test_golden_valid(name):
    doc = json.loads((HERE / name).read_text())
    data = (HERE / doc["file"]).read_bytes()
    assert dumps(to_json(msgpack.unpackb(data, raw=False))) == dumps(doc["payload"])
    assert dumps(to_json(DECODERS[doc["decoder"]](data))) == dumps(doc["values"])


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("invalid_")])
def test_golden_invalid(name):
    doc = json.loads((HERE / name).read_text())
    with pytest.raises((WireError, ScenarioError)) as caught:
        DECODERS[doc["decoder"]]((HERE / doc["file"]).read_bytes())
    message = getattr(caught.value, "message", str(caught.value))
    assert (caught.value.code, message) == (doc["error"]["code"], doc["error"]["message"])


def test_every_truncation_raises_only_wire_error():
    for case in build_cases():
        if case.name.startswith("invalid_"):
            continue
        for end in range(len(case.payload)):
            with pytest.raises(WireError):
                DECODERS[case.doc["decoder"]](case.payload[:end])
