"""What the video view draws the crowd with: a body model and the clip library, as files.

The gateway runs in a process of its own and never generates content: the application writes the
files (``synthtwin.engine.app.assets.crowd_assets``: the synthesized low-poly body and clips, in
the data folder's cache) and names them here; the gateway reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthtwin.components.pose import CLIPS
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.kernels.smpl import BodyModel

__all__ = ["CrowdAssets"]


@dataclass(frozen=True)
class CrowdAssets:
    """Files of the crowd's assets.

    Attributes:
        body_file: an SMPL ``.npz`` / ``.pkl`` body model (the crowd's one body).
        clips_dir: a folder holding ``<clip>.npz`` (AMASS layout) for every name of ``CLIPS``.
    """

    body_file: str
    clips_dir: str

    def body(self) -> BodyModel:
        return BodyModel.load(self.body_file)

    def library(self) -> ClipLibrary:
        return ClipLibrary.load(self.clips_dir, CLIPS)
