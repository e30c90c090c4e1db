"""Draft: a reply being written: its sentences, the facts they state, and a seeded choice of
phrasing.

A handler writes ``core`` sentences (always said) and ``extra`` ones (detail a talkative twin adds)
and formats every number through ``Draft.say``, which records the fact it came from; so a reply's
facts are exactly what its numbers were made from. Phrasings are chosen by a stable hash of the
engine's seed, the twin, the turn and the slot, never by a random generator: the same snapshot,
message and conversation give the same reply in any process.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from synthtwin.net.chat.facts import Fact, say
from synthtwin.net.chat.norms import Concern
from synthtwin.net.chat.snapshot import TwinSnapshot

__all__ = ["Draft", "Phrasing"]


@dataclass(frozen=True)
class Phrasing:
    """A deterministic choice among phrasings for one turn of one conversation."""

    seed: int
    twin_id: int
    turn: int

    def pick(self, options: Sequence[str], slot: str) -> str:
        """One of ``options``, the same for the same seed, twin, turn and slot."""
        key = f"{self.seed}:{self.twin_id}:{self.turn}:{slot}".encode()
        return options[zlib.crc32(key) % len(options)]


@dataclass
class Draft:
    """The reply a handler writes.

    Attributes:
        snap: the twin's facts.
        phrasing: the turn's choice of phrasings.
        core: sentences every twin says.
        extra: detail that talkative twins add, in order of interest.
        concerns: the out-of-norm values this answer is about (the voice may worry about them).
        social: small talk, where an outgoing twin asks back.
        said_tired: the core already says the twin is tired (the voice does not repeat it).
        facts: the facts the reply rests on, by name, in the order used.
    """

    snap: TwinSnapshot
    phrasing: Phrasing
    core: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    concerns: list[Concern] = field(default_factory=list)
    social: bool = False
    said_tired: bool = False
    facts: dict[str, Fact] = field(default_factory=dict)

    def say(self, name: str, unit: bool = True) -> str:
        """Fact ``name`` as the reply writes it (recorded as used)."""
        return say(self.use(name), unit)

    def use(self, name: str) -> Fact:
        """Record fact ``name`` as one the reply rests on, and return it."""
        fact = self.snap[name]
        self.facts.setdefault(name, fact)
        return fact

    def value(self, name: str, default=None):
        """The value of fact ``name`` (not recorded: for deciding what to say)."""
        return self.snap.value(name, default)

    def has(self, name: str) -> bool:
        return name in self.snap

    def pick(self, options: Sequence[str], slot: str) -> str:
        return self.phrasing.pick(options, slot)

    def add(self, sentence: str) -> None:
        """A core sentence."""
        self.core.append(sentence)

    def detail(self, sentence: str) -> None:
        """An extra sentence."""
        self.extra.append(sentence)
