"""``twin chat ID``: talk to one twin of a running server, a line at a time.

    twin chat 7                       an interactive conversation (readline editing and history)
    echo "how did you sleep?" | twin chat 7      one reply per input line, for scripts and tests

Each line goes to the server's ROUTER as a ``chat`` request (``docs/protocol.md`` section 7),
within one conversation (its ``conversation_id`` is kept), and the twin's reply is printed. At
a terminal it prompts, keeps the history of what was asked in ``--history`` (default
``~/.synthtwin_chat_history``) and takes ``/new`` (a new conversation), ``/facts`` (show the
facts of the last reply) and ``/quit`` (or Ctrl-D). With ``--json`` every reply is printed as the
whole result (reply, conversation id, facts, intent, engine), one JSON line each.

Options: ``--router`` and ``--timeout`` (seconds a reply waits), and for a server with access
control ``--token`` (default ``$SYNTHTWIN_TOKEN``; chatting needs the analyst role),
``--server-key`` and ``--key`` (CURVE), ``--curve``. Exit status: 0; 2 when the server does not
answer, a key file cannot be read, or (reading a pipe) any line got an error reply.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from synthtwin.clients.python.cli import add_request_options, request_client
from synthtwin.net.wire.chat import ChatArgs, ChatResult, read_result
from synthtwin.net.wire.curve import KeyFileError
from synthtwin.net.wire.dealer import RequestClient, RequestError

__all__ = ["COMMANDS", "HISTORY_FILE", "chat", "register"]

TIMEOUT_S = 15.0
"""Seconds a reply waits by default (a configured language model may take up to its timeout)."""
HISTORY_FILE = Path("~/.synthtwin_chat_history")
HISTORY_LINES = 1000
EXIT_ERROR = 2
PROMPT = "you> "


def register(subparsers: Any) -> None:
    """Add ``chat`` to ``subparsers`` (from ``add_subparsers``)."""
    talk = subparsers.add_parser("chat", help="talk to a twin (an interactive conversation)")
    talk.add_argument("twin", type=int, help="the twin's id")
    talk.add_argument("--json", action="store_true", help="print each whole result as JSON")
    talk.add_argument(
        "--history", type=Path, default=HISTORY_FILE, metavar="FILE",
        help=f"the interactive session's history ({HISTORY_FILE})",
    )  # fmt: skip
    add_request_options(talk, TIMEOUT_S)


class Conversation:
    """One conversation with one twin over a request client: ``say`` a line, get its result."""

    def __init__(self, client: RequestClient, twin_id: int) -> None:
        self.client, self.twin_id = client, twin_id
        self.conversation_id: str | None = None
        self.last: ChatResult | None = None

    def say(self, message: str) -> ChatResult:
        """The twin's answer to ``message``.

        Raises:
            RequestError: an error reply (nothing changed); TimeoutError: no reply.
        """
        args = ChatArgs(self.twin_id, message, self.conversation_id).to_args()
        self.last = read_result(self.client.call("chat", **args))
        self.conversation_id = self.last.conversation_id
        return self.last


def _show(result: ChatResult, twin_id: int, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(asdict(result)), file=out, flush=True)
    else:
        print(f"twin {twin_id}> {result.reply}", file=out, flush=True)


def _facts_lines(result: ChatResult | None) -> list[str]:
    if result is None or not result.facts:
        return ["(no facts)"]
    lines = [f"  {f.name} = {f.value} {f.unit} ({f.source}, {f.time})" for f in result.facts]
    return [f"[{result.intent}, {result.engine}]", *lines]


def _converse(talk: Conversation, lines: Iterator[str], as_json: bool, out: TextIO) -> int:
    """Send each non-empty line; an error reply is printed and the session goes on. Returns
    the exit status (``EXIT_ERROR`` if any line failed)."""
    status = 0
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text == "/quit":
            break
        if text == "/new":
            talk.conversation_id = None
            continue
        if text == "/facts":
            print("\n".join(_facts_lines(talk.last)), file=out)
            continue
        try:
            _show(talk.say(text), talk.twin_id, as_json, out)
        except RequestError as err:
            print(f"error {err.code}: {err.message}", file=sys.stderr)
            status = EXIT_ERROR
    return status


def _typed_lines(history: Path) -> Iterator[str]:
    """Lines typed at the terminal (readline editing; history kept in ``history``)."""
    import readline  # only at a terminal: line editing and history

    path = history.expanduser()
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LINES)
    try:
        while True:
            try:
                yield input(PROMPT)
            except EOFError:
                print()
                return
    finally:
        try:
            readline.write_history_file(path)
            path.chmod(0o600)  # what was asked of a twin's health is the user's own
        except OSError as err:
            print(f"twin chat: history not saved: {err}", file=sys.stderr)


def chat(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """``twin chat ID``: interactive at a terminal, else one reply per line of ``stdin``."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    try:
        client = request_client(args)
    except KeyFileError as err:
        return _fail(err)
    interactive = stdin.isatty()
    if interactive:
        print(f"Talking to twin {args.twin} (/new, /facts, /quit).", file=out)
    lines = _typed_lines(args.history) if interactive else iter(stdin)
    try:
        with client:
            return _converse(Conversation(client, args.twin), lines, args.json, out)
    except TimeoutError as err:
        return _fail(err)
    except KeyboardInterrupt:
        return 0


def _fail(why: object) -> int:
    print(f"twin chat: error: {why}", file=sys.stderr)
    return EXIT_ERROR


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"chat": chat}
