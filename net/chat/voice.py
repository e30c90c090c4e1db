"""Voice: how a twin says a draft, from its Big Five scores and its state.

- Extraversion (z-score): above ``OUTGOING_Z`` the twin is warm and talkative (an opener, every
  detail, a question back in small talk); below ``-OUTGOING_Z`` it is brief (the core only).
  Extraverts talk more and more warmly (Mehl, Gosling & Pennebaker 2006, J Pers Soc Psychol
  90:862, from recorded everyday speech).
- Neuroticism: above ``WORRIED_Z`` a value outside its norm (``norms``) worries the twin; below
  ``-WORRIED_Z`` it shrugs it off.
- Agreeableness: above ``WORRIED_Z`` small talk ends with thanks.
- State: short of sleep or sleepy (``norms.is_tired``), the twin says it is tired; asleep, it
  answers drowsily (once, at the start of a conversation or in small talk).
"""

from __future__ import annotations

from dataclasses import dataclass

from synthtwin.net.chat.draft import Draft
from synthtwin.net.chat.norms import Concern, is_tired
from synthtwin.net.chat.snapshot import TwinSnapshot

__all__ = ["Voice", "speak", "voice_of"]

OUTGOING_Z = 0.5
WORRIED_Z = 0.5

_TOPIC_NAME = {
    "bp": "my blood pressure", "hr": "my heart rate", "glucose": "my blood sugar",
    "spo2": "my oxygen level", "temp": "my temperature", "rr": "my breathing",
    "sleep": "my sleep",
}  # fmt: skip


@dataclass(frozen=True)
class Voice:
    """How a twin talks now.

    Attributes:
        talk: -1 brief, 0 plain, +1 warm and talkative (extraversion).
        worry: -1 unbothered, 0 plain, +1 worried by bad numbers (neuroticism).
        kind: thanks the asker in small talk (agreeableness).
        tired: short of sleep or sleepy.
        asleep: answering from sleep.
    """

    talk: int
    worry: int
    kind: bool
    tired: bool
    asleep: bool


def voice_of(snap: TwinSnapshot) -> Voice:
    """The twin's voice from its personality and state."""
    return Voice(
        talk=_level(snap.value("extraversion", 0.0), OUTGOING_Z),
        worry=_level(snap.value("neuroticism", 0.0), WORRIED_Z),
        kind=snap.value("agreeableness", 0.0) > WORRIED_Z,
        tired=is_tired(snap),
        asleep=snap.value("activity") == "sleep",
    )


def speak(draft: Draft, voice: Voice) -> str:
    """The reply text: the draft's sentences in the twin's voice."""
    pick = draft.pick
    parts: list[str] = []
    opening = draft.phrasing.turn == 0 or draft.social
    if voice.asleep and opening:
        drowsy = ("Mmm... *yawns*", "Huh? Sorry...", "Zzz... oh, hi.")
        parts.append(pick(drowsy, "wake"))
    elif voice.tired and opening and not draft.said_tired:
        parts.append(_tired(draft, voice))
    if voice.talk > 0 and not voice.asleep:
        parts.append(pick(("Oh, hi!", "Sure!", "Happy to chat!", "Good question!"), "open"))
    parts += draft.core
    parts += [_worry(draft, concern, voice) for concern in draft.concerns[:1]]
    parts += draft.extra if voice.talk > 0 else draft.extra[:1] if voice.talk == 0 else []
    if draft.social and voice.talk > 0:
        parts.append(pick(("How about you?", "And how are you doing?", "What about you?"), "ask"))
    if draft.social and voice.kind and voice.talk >= 0:
        parts.append(pick(("Thanks for asking.", "Nice of you to ask."), "thanks"))
    return " ".join(p for p in parts if p)


def _level(z: float, cut: float) -> int:
    return 1 if z > cut else -1 if z < -cut else 0


def _tired(draft: Draft, voice: Voice) -> str:
    if voice.talk > 0:
        options = ("*yawns* Sorry, I'm really tired today.", "Ugh, I'm so tired, but go on!")
    elif voice.talk < 0:
        options = ("Tired.", "*yawn*")
    else:
        options = ("Sorry, I'm a bit tired.", "*yawns* Bit tired today.")
    return draft.pick(options, "tired")


def _worry(draft: Draft, concern: Concern, voice: Voice) -> str:
    """One sentence on a value outside its norm, as the twin feels about it."""
    what = _TOPIC_NAME.get(concern.topic, "that")
    level = "low" if concern.level == "low" else "high"
    if concern.topic == "sleep":
        level = "short"
    if voice.worry > 0 or concern.severe:
        options = (
            f"Honestly, {what} being this {level} worries me.",
            f"That's too {level}, and it makes me nervous.",
            f"I don't like how {level} {what} is. Should I see a doctor?",
        )
    elif voice.worry < 0:
        options = (
            f"It's a bit {level}, but I'm not too worried.",
            f"A bit on the {level} side, but I'm sure it's fine.",
        )
    else:
        options = (f"That's on the {level} side.", f"It's {level}er than it should be.")
    if concern.topic == "sleep" and voice.worry <= 0:
        options = ("Not quite enough sleep.", "I could have used more sleep.")
    return draft.pick(options, f"worry-{concern.topic}")
