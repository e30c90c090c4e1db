"""The golden vectors of the ops and events beside the stream (chat, history, scenario): each set's
files are what its generator writes, every valid payload decodes to its recorded values, every
invalid one is refused with its exact code and message, and every truncation of a valid payload
is refused with a decode error (``WireError``) only."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import msgpack
import pytest

from synthtwin.components.scenario import ScenarioError
from synthtwin.engine.health_query import HistoryError
from synthtwin.net.wire.chat import ChatArgsError
from synthtwin.net.wire.errors import WireError
from tests.golden.wire.make_golden import assert_current, dumps, to_json

REFUSALS: dict[str, tuple[type[Exception], ...]] = {
    "chat": (WireError, ChatArgsError),
    "history": (WireError, HistoryError),
    "scenario": (WireError, ScenarioError),
}
"""Each set's name (its folder under tests/golden/) and what its decoders refuse input with."""


def _generator(name: str) -> ModuleType:
    return importlib.import_module(f"tests.golden.{name}.make_golden")


def _cases(valid: bool) -> list[tuple[str, str]]:
    """(set, file name) of every valid (or every invalid) case on disk."""
    return [
        (name, path.name)
        for name in REFUSALS
        for path in sorted(Path(_generator(name).HERE).glob("*.json"))
        if path.name.startswith("invalid_") != valid
    ]


@pytest.mark.parametrize("name", REFUSALS)
def test_golden_files_are_current(name):
    generator = _generator(name)
    assert_current(generator.HERE, generator.build_cases())


@pytest.mark.parametrize(("name", "case"), _cases(valid=True))
def test_golden_valid(name, case):
    generator = _generator(name)
    doc = json.loads((generator.HERE / case).read_text())
    data = (generator.HERE / doc["file"]).read_bytes()
    # compared as JSON text: a missing value is NaN, which equals nothing, itself included
    assert dumps(to_json(msgpack.unpackb(data, raw=False))) == dumps(doc["payload"])
    assert dumps(to_json(generator.DECODERS[doc["decoder"]](data))) == dumps(doc["values"])


@pytest.mark.parametrize(("name", "case"), _cases(valid=False))
def test_golden_invalid(name, case):
    generator = _generator(name)
    doc = json.loads((generator.HERE / case).read_text())
    with pytest.raises(REFUSALS[name]) as caught:
        generator.DECODERS[doc["decoder"]]((generator.HERE / doc["file"]).read_bytes())
    message = getattr(caught.value, "message", str(caught.value))
    assert (caught.value.code, message) == (doc["error"]["code"], doc["error"]["message"])


@pytest.mark.parametrize("name", REFUSALS)
def test_every_truncation_raises_only_wire_error(name):
    generator = _generator(name)
    for case in generator.build_cases():
        if case.name.startswith("invalid_"):
            continue
        for end in range(len(case.payload)):
            with pytest.raises(WireError):
                generator.DECODERS[case.doc["decoder"]](case.payload[:end])
