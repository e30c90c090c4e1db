"""Pose: which animation clip a twin plays, where in it, and how far a cross-fade has come.

Crowds replicate this animation state rather than joints (every client holds the same clips and
plays them); full joint rotations arrive with the skinning work.
"""

from synthtwin.components.schema import Column, Component

__all__ = ["ANIMATION", "CLIPS"]

CLIPS = ("stand", "walk", "run", "sit", "lie", "cycle", "eat", "desk_work", "exercise", "drive")
"""Clip names; a clip's code is its index."""

ANIMATION = Component(
    "animation",
    (
        Column("clip", "uint8", doc="clip playing now, index into CLIPS"),
        Column("previous_clip", "uint8", doc="clip being faded out"),
        Column("clip_phase", "float32", doc="position in the clip's cycle, 0..1"),
        Column("clip_blend", "float32", default=1.0, doc="weight of clip vs previous_clip, 0..1"),
    ),
)
