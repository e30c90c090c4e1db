"""Talk to a twin: grounded conversation from its live state and history, in its own voice.

Two steps, in two places:

1. ``take_snapshot(world, twin_id, today)`` in the simulation thread (between ticks, like the
   ``twin`` request): the twin's facts, about a hundred values with units, sources (``live``,
   ``history``, ``profile``, ``schedule``) and times, copied into a frozen ``TwinSnapshot`` in
   a fraction of a millisecond.
   Where a health record is kept, ``past.fetch_past`` reads the twin's recorded days off the
   tick (the record's query thread) and ``past.with_past`` adds them to the snapshot as
   ``history`` facts (each day's values, week and usual means, trends, alerts), which
   ``recall`` answers from ("yesterday", "and the day before?", "this week compared with your
   usual?", "why?").
2. ``ChatEngine.reply(snapshot, message, conversation_id)`` anywhere (a worker thread, another
   process with ``TwinSnapshot.from_dict``): a ``ChatReply`` with the text, the facts it rests
   on, the intent and the engine that wrote it.

Minimal use::

    engine = ChatEngine()                       # once; trains the intent classifier (~0.5 s)
    snap = take_snapshot(sim.world, 42, sim.today)
    answer = engine.reply(snap, "how did you sleep?")
    answer.reply       # "I slept 6.4 hours last night. Not bad, not great."
    engine.reply(snap, "and yesterday?", answer.conversation_id)   # a follow-up

How intents are recognised (``understand``): the message is normalised (``text``: lower case,
shorthand and contractions spelled out), each unknown word is corrected against the known
vocabulary (SymSpell, up to two edits), and slot phrases are found (``slots``: topics such as
heart rate or job, and a time frame such as yesterday or tomorrow). A TF-IDF nearest-neighbour
classifier over character n-grams and words (``classifier``) compares the message, with every
vital sign written as one token, to the shipped paraphrase set (``paraphrases``); a message far
from all of them, or mostly made of unknown words, is ``out_of_domain``. A few high-precision
rules follow: an opening cue ("why", "what if") decides; a named vital sign makes small talk a
``vitals`` question; a past time frame sends it to ``history``, a future one to ``plans``; a
bare fragment ("and yesterday?", "what about your blood pressure?") keeps the previous turn's
intent with the new slots (``memory`` keeps the last turns of each conversation).

How answers are written: the intent's handler (``answers``) writes a ``Draft``: core sentences,
extra detail, the concerns it touches; every number goes through ``Draft.say``, which formats a
fact with the rounding its spec states and records it, so the reply's facts are exactly its
numbers' sources (``grounding.numbers_in`` / ``ungrounded`` check that, and check LLM replies).
``voice`` then says the draft as the twin would: extraverts warm and long, introverts brief;
worriers worried by values outside published norms (``norms``); tired after a short night.
Phrasings are picked by a hash of the seed, the twin and the turn: deterministic.

With ``ChatSettings(llm_base_url=..., llm_model=..., llm_api_key=...)`` an OpenAI-compatible
endpoint answers first, through tool calls for the same facts (``tools``, ``llm``); a reply
with a number no tool gave, a timeout or an error falls back to the embedded engine, and
``ChatReply.engine`` / ``fallback`` say which answered and why.

Extending:

- a new way of asking: add the sentence to its intent in ``paraphrases.PARAPHRASES``, and a test
  question with its expected intent and facts to ``tests/chat/questions.jsonl``;
- a new word for a topic or time frame: add the phrase to ``slots.TOPICS`` / ``TIMEFRAMES``;
- a new fact: a ``FactSpec`` in ``facts.FACT_SPECS`` and its value in ``snapshot``;
- a new intent: a key with its paraphrases in ``PARAPHRASES`` and a handler in
  ``answers.HANDLERS`` (``handler(draft, understanding)``, numbers only through ``draft.say``);
  the tests check that every intent has a handler.
"""

from synthtwin.net.chat.engine import (
    MAX_MESSAGE_CHARS,
    ChatEngine,
    ChatInputError,
    ChatReply,
    ChatSettings,
)
from synthtwin.net.chat.facts import FACT_SPECS, Fact, FactSpec, Source
from synthtwin.net.chat.grounding import numbers_in, ungrounded
from synthtwin.net.chat.llm import API_KEY_ENV, LlmSettings, api_key_from_env
from synthtwin.net.chat.snapshot import (
    TodayReader,
    TwinSnapshot,
    read_twin,
    read_twins,
    take_snapshot,
)
from synthtwin.net.chat.understand import INTENTS, Understander, Understanding

__all__ = [
    "API_KEY_ENV",
    "FACT_SPECS",
    "INTENTS",
    "MAX_MESSAGE_CHARS",
    "ChatEngine",
    "ChatInputError",
    "ChatReply",
    "ChatSettings",
    "Fact",
    "FactSpec",
    "LlmSettings",
    "Source",
    "TodayReader",
    "TwinSnapshot",
    "Understander",
    "Understanding",
    "api_key_from_env",
    "numbers_in",
    "read_twin",
    "read_twins",
    "take_snapshot",
    "ungrounded",
]
