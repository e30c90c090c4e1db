"""Understanding: a message, in the light of the conversation so far, becomes an intent with its
topics and time frame.

The pipeline (each step one module):

1. ``text.normalise``: lower case, shorthand and contractions spelled out;
2. ``text.Speller``: unknown words corrected against the words of the paraphrase set, the slot
   phrases and common English words;
3. ``slots.find_slots``: topics ("heart rate"), time frame ("yesterday") and the masked words;
4. ``classifier.IntentClassifier``: the nearest paraphrase's intent, or ``out_of_domain`` when
   nothing is near or the message is mostly words the set does not know; an opening cue ("why",
   "what if") overrides it;
5. a named vital sign makes small talk a ``vitals`` question, a named trait (job, age) an
   ``about`` question; the time frame picks the source: a question about the past ("yesterday",
   "this week", "than usual") is a ``history`` question, one about the future a ``plans``
   question;
6. follow-ups: a fragment ("and yesterday?", "what about your blood pressure?") keeps the last
   turn's intent with the new slots; a question about "that" keeps the last turn's topics;
7. the day a past question means (``days_back``): 1 for "yesterday", 2 for "the day before
   yesterday" or "the night before last", N for "N days ago", and one more than the last turn's
   for a follow-up "and the day before?".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from synthtwin.net.chat.classifier import IntentClassifier
from synthtwin.net.chat.paraphrases import PARAPHRASES
from synthtwin.net.chat.slots import ABOUT_TOPICS, VITAL_TOPICS, Slots, find_slots, slot_words
from synthtwin.net.chat.text import COMMON_WORDS, Speller, normalise, tokens

__all__ = ["INTENTS", "Understander", "Understanding"]

INTENTS = tuple(PARAPHRASES)
"""Every intent: the paraphrase set's keys (``out_of_domain`` included)."""

MIN_SIMILARITY = 0.3
"""Below this cosine similarity to its nearest paraphrase a message is out of the domain."""

FOREIGN_WORDS = 2
"""Unknown words that make a message, with no slot named, out of the domain."""

_PAST = ("yesterday", "week", "usual")
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10}  # fmt: skip
"""Number words a "N days ago" understands (digits too)."""
_ABSOLUTE = frozenset(("yesterday", "last"))
"""Words that make "before" count from today ("the day before yesterday", "the night before
last"); without them a follow-up "and the day before?" steps back from the last turn's day."""
_FUTURE = ("later", "tomorrow")
_NOW_INTENTS = ("vitals", "sleep", "today", "activity", "location", "company", "greeting")
_NOT_ABOUT = ("vitals", "greeting", "farewell", "activity", "location")
_SMALL_TALK = ("greeting", "farewell", "location", "company", "activity")
_TOPICAL = ("vitals", "why", "history", "about", "sleep")
_FOLLOW_CUES = (("and", "what", "about"), ("and", "how", "about"), ("what", "about"),
                ("how", "about"), ("what", "of"), ("same", "for"), ("and",), ("also",), ("plus",),
                ("but",), ("ok",), ("so",))  # fmt: skip
"""Openings of a follow-up fragment, longest first."""
_CUES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("what", "if"), "what_if"), (("what", "would", "happen"), "what_if"),
    (("what", "happens", "if"), "what_if"), (("suppose",), "what_if"), (("imagine",), "what_if"),
    (("pretend",), "what_if"), (("can", "you", "go"), "what_if"),
    (("could", "you", "go"), "what_if"), (("where", "are", "you"), "location"), (("why",), "why"),
    (("how", "come"), "why"), (("what", "is", "causing"), "why"), (("what", "is", "making"), "why"),
    (("what", "is", "driving"), "why"), (("what", "is", "behind"), "why"),
    (("what", "made"), "why"), (("what", "caused"), "why"),
)  # fmt: skip
"""Openings that decide the intent whatever follows ("why is your heart beating so fast" asks
for a reason, although most of its words ask for a heart rate)."""
_GLUE = frozenset(("the", "your", "you", "my", "a", "an", "please", "then", "too", "for", "there"))
"""Words a fragment may hold besides its slots and cue ("and your pulse too?")."""
_REASON_WORDS = frozenset(
    ("why", "come", "cause", "causes", "causing", "caused", "reason", "explain", "explains",
     "behind", "because", "making", "made", "driving", "due")
)  # fmt: skip
_REFERENCES = frozenset(("that", "it", "this", "those", "these", "so"))


@dataclass(frozen=True)
class Understanding:
    """What a message asks.

    Attributes:
        intent: one of ``INTENTS``.
        topics: the fact groups it is about (``slots.TOPICS`` keys), maybe carried over from the
            previous turn.
        timeframe: ``now``/``today``/``yesterday``/``week``/``usual``/``later``/``tomorrow`` or
            ``None``.
        confidence: the classifier's score for its best intent, which a rule may then have
            overridden (1.0 when a follow-up rule decided alone).
        follow_up: the previous turn supplied the intent or the topics.
        words: the corrected words the classifier read.
        days_back: the day a ``yesterday`` question is about, in days before today (1:
            yesterday); 1 for other time frames.
    """

    intent: str
    topics: tuple[str, ...] = ()
    timeframe: str | None = None
    confidence: float = 1.0
    follow_up: bool = False
    words: tuple[str, ...] = ()
    days_back: int = 1


class Understander:
    """Turns messages into ``Understanding``s; built once (a few hundred ms), then pure."""

    def __init__(self, paraphrases: dict[str, tuple[str, ...]] = PARAPHRASES) -> None:
        vocabulary = [w for texts in paraphrases.values() for t in texts for w in tokens(t)]
        self.speller = Speller([*vocabulary, *slot_words(), *COMMON_WORDS, *_NUMBER_WORDS])
        examples = {
            intent: [find_slots(normalise(text).split()).masked for text in texts]
            for intent, texts in paraphrases.items()
        }
        self.classifier = IntentClassifier(examples)

    def understand(self, message: str, previous: Understanding | None = None) -> Understanding:
        """The intent, topics and time frame of ``message``; ``previous`` is the conversation's
        last understanding (for follow-ups)."""
        words = self.speller.correct(normalise(message).split())
        slots = find_slots(words)
        if previous is not None and _is_fragment(words, slots):
            understood = _follow_up(previous, slots.topics, slots.timeframe, tuple(words))
            return _with_day(understood, previous)
        scores = self.classifier.classify(slots.masked)
        intent = _first_plausible(scores.ranking, words)
        intent = intent if scores.best >= MIN_SIMILARITY else "out_of_domain"
        if _foreign(words, self.speller) and not (slots.topics or slots.timeframe):
            intent = "out_of_domain"
        intent = _cued(words) or intent
        intent = _by_topics(intent, slots.topics)
        intent = _by_timeframe(intent, slots.timeframe)
        topics, carried = slots.topics, False
        if not topics and previous is not None and _refers_back(intent, words):
            topics, carried = previous.topics, bool(previous.topics)
        understood = Understanding(intent, topics, slots.timeframe, scores.score, carried,
                                   tuple(words))  # fmt: skip
        return _with_day(understood, previous)


def _with_day(understood: Understanding, previous: Understanding | None) -> Understanding:
    """``understood`` with the day its ``yesterday`` question means (module docstring, 7)."""
    if understood.timeframe != "yesterday":
        return understood
    words = understood.words
    back = 1
    for i, word in enumerate(words[:-1]):
        if words[i + 1] in ("days", "nights") and words[i + 2 : i + 3] == ("ago",):
            back = int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)
            return replace(understood, days_back=max(back, 1))
    if "before" in words:  # "the day before yesterday", "the night before last": 2
        stepped = previous is not None and previous.timeframe == "yesterday"
        relative = stepped and understood.follow_up and not _ABSOLUTE & set(words)
        back = previous.days_back + 1 if relative else 2
    return replace(understood, days_back=back)


def _first_plausible(ranking: tuple[tuple[str, float], ...], words: list[str]) -> str:
    """The best-ranked intent the message can mean: ``why`` only with a word that asks for a
    reason ("how many calories did you burn" is no ``why`` question, however near "why did you
    burn so many calories" is)."""
    for intent, _ in ranking:
        if intent != "why" or _REASON_WORDS & set(words):
            return intent
    return ranking[0][0]


def _foreign(words: list[str], speller: Speller) -> bool:
    """Whether a message holds ``FOREIGN_WORDS`` or more words that no paraphrase, slot or
    common word knows (even after correction): it is about something else ("tell me about
    black holes")."""
    return sum(word not in speller.counts for word in words) >= FOREIGN_WORDS


def _cued(words: list[str]) -> str | None:
    """The intent an opening cue decides, if the message starts with one."""
    for cue, intent in _CUES:
        if tuple(words[: len(cue)]) == cue:
            return intent
    return None


def _refers_back(intent: str, words: list[str]) -> bool:
    """A topical question without a topic of its own that points back ("why is that?")."""
    if intent not in _TOPICAL or intent == "about":
        return False
    return bool(_REFERENCES & set(words)) or len(words) <= 3


def _by_topics(intent: str, topics: tuple[str, ...]) -> str:
    """A question that names a vital sign asks about it ("are your oxygen levels ok?" is no
    greeting); one that names a trait of the twin ("what's your profession?") asks about the
    twin."""
    vital = any(t in VITAL_TOPICS for t in topics)
    if intent in _SMALL_TALK and vital:
        return "vitals"
    if intent in _NOT_ABOUT and not vital and any(t in ABOUT_TOPICS for t in topics):
        return "about"
    return intent


def _by_timeframe(intent: str, timeframe: str | None) -> str:
    """A question about the past is answered from history, one about the future from the
    schedule."""
    if timeframe in _PAST and intent in _NOW_INTENTS + ("plans",) and intent != "greeting":
        return "history"
    if timeframe in _FUTURE and intent in _NOW_INTENTS and intent != "greeting":
        return "plans"
    return intent


def _is_fragment(words: list[str], slots: Slots) -> bool:
    """A bare follow-up: slot phrases with at most a cue ("and", "what about") and glue words
    ("and yesterday?", "what about your blood pressure?", "pulse?")."""
    if not (slots.topics or slots.timeframe):
        return False
    rest = list(slots.rest)
    for cue in _FOLLOW_CUES:
        if tuple(rest[: len(cue)]) == cue:
            rest = rest[len(cue) :]
            break
    return all(word in _GLUE or word in _NUMBER_WORDS or word.isdigit() for word in rest)


def _follow_up(
    previous: Understanding,
    topics: tuple[str, ...],
    timeframe: str | None,
    words: tuple[str, ...],
) -> Understanding:
    """A fragment resolved against the previous turn: new slots, the old intent where it fits."""
    if timeframe in _PAST:
        intent = "history"
    elif timeframe in _FUTURE:
        intent = "plans"
    elif topics:
        intent = _intent_for_topics(previous.intent, topics)
    elif previous.intent == "history":
        intent = "sleep" if "sleep" in previous.topics else _now_intent(previous.topics)
    else:
        intent = previous.intent
    if not topics and intent in _TOPICAL:
        topics = previous.topics
    if timeframe is None and intent == previous.intent:
        timeframe = previous.timeframe
    return Understanding(intent, topics, timeframe, 1.0, True, words)


def _intent_for_topics(previous: str, topics: tuple[str, ...]) -> str:
    """The previous intent if it can answer these topics, else the intent that does."""
    vital = any(t in VITAL_TOPICS for t in topics)
    about = any(t in ABOUT_TOPICS for t in topics)
    if previous in ("vitals", "why", "history") and vital:
        return previous
    if previous in ("history", "why") and "sleep" in topics:
        return previous
    if about:
        return "about"
    if "sleep" in topics and not vital:
        return "sleep"
    return _now_intent(topics)


def _now_intent(topics: tuple[str, ...]) -> str:
    return "vitals" if any(t in VITAL_TOPICS for t in topics) else "today"
