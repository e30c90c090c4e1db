"""The files a gateway process draws with, generated into the data folder's cache on first use."""

from __future__ import annotations

from pathlib import Path

from synthtwin.engine.synth.body_model import ensure_synth_models, model_filename, synth_model_dir
from synthtwin.engine.synth.motion import synth_clip_dir
from synthtwin.net.render.assets import CrowdAssets

__all__ = ["CROWD_LOD", "crowd_assets"]

CROWD_LOD = 1
"""The crowd's level of detail: the synthesized low-poly body."""


def crowd_assets(data_dir: Path | None = None) -> CrowdAssets:
    """The synthesized neutral low-poly body and clips, written first if they are not there.

    Args:
        data_dir: the data folder; None: ``$SYNTHTWIN_DATA``, else ``./data``.
    """
    models = ensure_synth_models(synth_model_dir(data_dir))
    body_file = models / "smpl" / model_filename("neutral", CROWD_LOD, "npz")
    return CrowdAssets(str(body_file), str(synth_clip_dir(data_dir)))
