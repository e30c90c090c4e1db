"""Text: a message as the classifier reads it: lower case, contractions and chat shorthand
spelled out, punctuation gone, and each unknown word corrected to the nearest known one.

The speller is SymSpell's symmetric-delete lookup (Garbe 2012): every known word is indexed under
the strings it gives with up to two letters deleted; an unknown word's own deletions then find the
known words within that distance, and the optimal-string-alignment (Damerau-Levenshtein) distance
picks the nearest (ties: the more frequent, then the first alphabetically). Words of up to three
letters and words with digits are left alone; four to six letters allow one edit, longer two;
no word is corrected into a word shorter than four letters or one that starts with another
letter ("head" is neither "had" nor "read").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from itertools import combinations

__all__ = ["COMMON_WORDS", "Speller", "normalise", "tokens"]

_REWRITES: tuple[tuple[str, str], ...] = (
    (r"[’‘`´]", "'"),
    (r"\bwhatcha\b|\bwatcha\b|\bwhat ya\b", "what are you"),
    (r"\bwyd\b", "what are you doing"),
    (r"\bhru\b", "how are you"),
    (r"\bwbu\b|\bhbu\b", "what about you"),
    (r"\br u\b", "are you"),
    (r"\bu r\b", "you are"),
    (r"\b(?:what|wat|wut|wht)'?s\b", "what is"),
    (r"\bwat\b|\bwut\b|\bwht\b", "what"),
    (r"\b(how|where|who|when|why|that|it|there|what)'s\b", r"\1 is"),
    (r"\b(how|where|who|thats?)s\b", r"\1 is"),
    (r"\bi'?m\b", "i am"),
    (r"\b(you|we|they)'re\b|\byoure\b", r"\1 are"),
    (r"\b(\w+)n't\b", r"\1 not"),
    (r"\b(do|did|does|is|are|was|have|has|could|would)nt\b", r"\1 not"),
    (r"\bwon't\b|\bwont\b", "will not"),
    (r"\bcan't\b|\bcant\b", "cannot"),
    (r"\b(\w+)'(ve|ll|d)\b", r"\1"),
    (r"\bur\b|\byur\b|\byour'?e\b", "your"),
    (r"\burself\b|\byurself\b", "yourself"),
    (r"\bu\b|\bya\b|\byu\b", "you"),
    (r"\br\b", "are"),
    (r"\by\b", "why"),
    (r"\bgonna\b", "going to"),
    (r"\bwanna\b", "want to"),
    (r"\bgotta\b", "got to"),
    (r"\btmrw\b|\btmr\b|\btmrow\b|\btomoz\b|\b2moro\b|\b2morrow\b|\btmw\b", "tomorrow"),
    (r"\b2day\b|\btdy\b", "today"),
    (r"\b2nite\b|\btonite\b", "tonight"),
    (r"\bpls\b|\bplz\b", "please"),
    (r"\bokay\b|\bokey\b|\bk\b|\bokk+\b", "ok"),
    (r"\bthx\b|\bty\b|\btnx\b|\bthnx\b|\bthanx\b", "thanks"),
    (r"\batm\b", "at the moment"),
    (r"\brn\b", "right now"),
    (r"\bsp\s?0\s?2\b|\bsp\s?o2\b|\bspo 2\b", "spo2"),
    (r"\bo2\b", "oxygen"),
    (r"\bhb\b", "heartbeat"),
    (r"\bbg\b", "blood sugar"),
    (r"\bcals?\b", "calories"),
    (r"\bhrs\b", "hours"),
    (r"\bmins?\b", "minutes"),
    (r"\bppl\b", "people"),
    (r"\bbc\b|\bcuz\b|\bcos\b", "because"),
)
COMMON_WORDS = frozenset(
    """
a about above after again against all almost also always am an and any anybody anyone anything
are around as ask asked asking at away back be because been before being below best better
between bit both but by can cannot come could day did do does doing done down during each else
even ever every few first for from get gets getting give go goes going gone good got had has
have having he her here hers him his how however i if in into is it its just keep kind know last
least less let like little long look lot lots made make many may maybe me might mind mine more
most much must my myself need never new next no nobody none nor not nothing now of off often oh
ok on once one only or other others our out over own please quite rather really right said same
say see seem she should since so some somebody someone something sometimes still such sure take
tell than thank that the their them then there these they thing things think this those though
through to too try under until up upon us use very want was way we well were what whatever when
where whether which while who whom whose why will with without would yeah yes yet you your yours
yourself
""".split()  # noqa: SIM905 - a word list reads best as text
)
"""Common English words, known to the speller so that it never "corrects" them."""

_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in _REWRITES)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalise(message: str) -> str:
    """Lower case, shorthand and contractions spelled out, one space between words."""
    text = message.lower()
    for pattern, repl in _COMPILED:
        text = pattern.sub(repl, text)
    return " ".join(tokens(text))


def tokens(text: str) -> list[str]:
    """The words of ``text`` (possessive ``'s`` dropped, other apostrophes joined)."""
    words = (w.removesuffix("'s").replace("'", "") for w in _WORD.findall(text.lower()))
    return [w for w in words if w]


MIN_TARGET_LETTERS = 4
"""Words are corrected only into words this long: short words are too close to each other
("head" is not "had")."""


class Speller:
    """Corrects unknown words to the nearest known word (SymSpell, up to two edits)."""

    MAX_EDITS = 2

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.counts = Counter(vocabulary)
        self.index: dict[str, list[str]] = {}
        for word in sorted(self.counts):
            for variant in _deletions(word, self.MAX_EDITS):
                self.index.setdefault(variant, []).append(word)

    def correct(self, words: list[str]) -> list[str]:
        """``words`` with each unknown word replaced by its nearest known word, if any is near."""
        return [self.nearest(word) for word in words]

    def nearest(self, word: str) -> str:
        """The known word nearest to ``word`` (itself when known, short, numeric or far)."""
        allowed = _allowed_edits(word)
        if word in self.counts or allowed == 0:
            return word
        best: tuple[int, int, str] | None = None
        for variant in _deletions(word, allowed):
            for known in self.index.get(variant, ()):
                if len(known) < MIN_TARGET_LETTERS or not _same_start(word, known):
                    continue
                distance = _osa_distance(word, known)
                if distance <= allowed:
                    key = (distance, -self.counts[known], known)
                    best = key if best is None or key < best else best
        return word if best is None else best[2]


def _same_start(word: str, known: str) -> bool:
    """Typos seldom change a word's first letter (Pollock & Zamora 1984, Commun ACM 27:358): a
    correction keeps it, unless the first two letters are swapped."""
    return word[0] == known[0] or word[:2] == known[1::-1]


def _allowed_edits(word: str) -> int:
    if len(word) <= 3 or any(c.isdigit() for c in word):
        return 0
    return 1 if len(word) <= 6 else 2


def _deletions(word: str, edits: int) -> set[str]:
    """``word`` and every string made by deleting up to ``edits`` of its letters."""
    out = {word}
    for k in range(1, min(edits, len(word) - 1) + 1):
        for drop in combinations(range(len(word)), k):
            out.add("".join(c for i, c in enumerate(word) if i not in drop))
    return out


def _osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent
    transpositions, each costing one."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]
