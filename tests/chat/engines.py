"""Chat engines that misbehave, for the tests of ``net.chat_service`` (top-level classes: the
chat worker process imports them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from synthtwin.net.chat import ChatEngine

RELEASE = "SYNTHTWIN_TEST_CHAT_RELEASE"
"""``Slow`` answers once the file this environment variable names exists (at most 10 s)."""


class Slow(ChatEngine):
    def reply(self, *args, **kwargs):
        release, deadline = Path(os.environ[RELEASE]), time.monotonic() + 10
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return super().reply(*args, **kwargs)


class Broken(ChatEngine):
    def reply(self, *args, **kwargs):
        raise ValueError("no")


class Mortal(ChatEngine):
    """Dies (the whole worker process) when told ``die``."""

    def reply(self, snapshot, message, conversation_id=None):
        if message == "die":
            os._exit(1)
        return super().reply(snapshot, message, conversation_id)


class _TwoArgs(Exception):
    """An exception that pickles but does not unpickle (its ``__init__`` takes two arguments,
    its ``args`` hold one), as ``ChatArgsError`` or ``HistoryError`` would."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")


class Garbled(ChatEngine):
    """Raises an exception the server cannot read back, then answers normally."""

    def reply(self, snapshot, message, conversation_id=None):
        if message == "garble":
            raise _TwoArgs("bad", "reply")
        return super().reply(snapshot, message, conversation_id)
