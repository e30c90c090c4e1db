"""Intent classifier: TF-IDF nearest neighbours over the shipped paraphrase set.

Each paraphrase becomes a sparse vector of character n-grams (2 to 4 letters of each word,
padded with spaces, which tolerate typos and inflections) and word uni- and bigrams of crudely
stemmed words (which keep word order cues such as "what do" against "what are ... doing");
weights are sublinear TF times smoothed IDF, and each vector has unit length. A message is scored
against every paraphrase by cosine similarity through an inverted index (feature ->
paraphrases, weights), and each intent scores the mean of its ``k`` best matches (``k`` = 1, the
nearest neighbour, by default: it generalised best to questions written apart from the set).
The caller decides what a score too low to trust means (``understand.MIN_SIMILARITY``).

Shapes: P paraphrases; the index holds, per feature, ``(n_f,) int32`` paraphrase rows and
``(n_f,) float32`` weights; ``similarities`` returns ``(P,) float32``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["IntentClassifier", "Scores", "features", "stem"]

CHAR_NGRAMS = (2, 3, 4)
WORD_WEIGHT = 1.5
"""Word features count this much more than a character n-gram."""


@dataclass(frozen=True)
class Scores:
    """A classification.

    Attributes:
        intent: the best intent.
        score: its score (mean cosine similarity of its ``k`` nearest paraphrases), 0..1.
        best: the single highest similarity to any paraphrase.
        ranking: every intent with its score, best first.
    """

    intent: str
    score: float
    best: float
    ranking: tuple[tuple[str, float], ...]


_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """``word`` without one inflection suffix (-ing, -ed, -es, -s) when four letters remain, and
    without a final ``e`` (so "exercise", "exercised" and "exercising" share ``exercis``)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def features(words: Sequence[str]) -> Counter[str]:
    """Raw feature counts of a (normalised, masked) word sequence."""
    out: Counter[str] = Counter()
    for word in words:
        padded = f" {word} "
        for n in CHAR_NGRAMS:
            out.update(f"c:{padded[i : i + n]}" for i in range(max(len(padded) - n + 1, 1)))
    stems = [stem(w) for w in words]
    bounded = ["<s>", *stems, "</s>"]
    out.update(f"w:{w}" for w in stems)
    out.update(f"b:{a}_{b}" for a, b in zip(bounded, bounded[1:], strict=False))
    return out


class IntentClassifier:
    """Nearest-neighbour intent classifier over labelled example messages."""

    def __init__(self, examples: Mapping[str, Sequence[Sequence[str]]], k: int = 1) -> None:
        """``examples``: intent -> example messages as word lists (normalised and masked)."""
        self.k = k
        self.intents = tuple(examples)
        docs = [features(words) for intent in self.intents for words in examples[intent]]
        labels = [i for i, intent in enumerate(self.intents) for _ in examples[intent]]
        self.labels = np.array(labels, dtype=np.int32)
        df = Counter(f for doc in docs for f in doc)
        n = len(docs)
        self.idf = {f: math.log((1 + n) / (1 + d)) + 1.0 for f, d in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for row, doc in enumerate(docs):
            for f, w in self._weights(doc).items():
                rows, weights = postings.setdefault(f, ([], []))
                rows.append(row)
                weights.append(w)
        self.index = {
            f: (np.array(rows, np.int32), np.array(weights, np.float32))
            for f, (rows, weights) in postings.items()
        }

    def _weights(self, counts: Counter[str]) -> dict[str, float]:
        """Unit-length TF-IDF weights of known features."""
        raw = {
            f: (1.0 + math.log(c)) * self.idf[f] * (WORD_WEIGHT if f[0] != "c" else 1.0)
            for f, c in counts.items()
            if f in self.idf
        }
        norm = math.sqrt(sum(w * w for w in raw.values())) or 1.0
        return {f: w / norm for f, w in raw.items()}

    def similarities(self, words: Sequence[str]) -> np.ndarray:
        """``(P,) float32`` cosine similarity of ``words`` to every example."""
        weights = self._weights(features(words))
        if not weights:
            return np.zeros(self.labels.size, np.float32)
        rows = np.concatenate([self.index[f][0] for f in weights])
        values = np.concatenate([self.index[f][1] * w for f, w in weights.items()])
        return np.bincount(rows, weights=values, minlength=self.labels.size).astype(np.float32)

    def classify(self, words: Sequence[str]) -> Scores:
        """The intents ranked for a message's words."""
        sims = self.similarities(words)
        scores = []
        for i, intent in enumerate(self.intents):
            mine = np.sort(sims[self.labels == i])[::-1][: self.k]
            scores.append((intent, float(mine.mean()) if mine.size else 0.0))
        ranking = tuple(sorted(scores, key=lambda item: (-item[1], self.intents.index(item[0]))))
        return Scores(ranking[0][0], ranking[0][1], float(sims.max(initial=0.0)), ranking)
