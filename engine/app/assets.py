"""The files a gateway process draws with, generated into the data folder's cache on first use."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from synthtwin.engine.synth.body_model import (
    data_root,
    ensure_synth_models,
    model_filename,
    synth_model_dir,
)
from synthtwin.engine.synth.motion import synth_clip_dir
from synthtwin.net.render.assets import CrowdAssets

__all__ = ["CROWD_LOD", "crowd_assets"]

LOG = logging.getLogger(__name__)
CROWD_LOD = 1
"""The crowd's level of detail: the synthesized low-poly body."""


def crowd_assets(data_dir: Path | None = None) -> CrowdAssets:
    """The synthesized neutral low-poly body and the simulation's own clips, as absolute paths,
    written first if they are not there; a data folder that cannot be written falls back to a
    cache in the system's temporary folder (logged).

    Args:
        data_dir: the data folder; None: ``$SYNTHTWIN_DATA``, else ``./data``.
    """
    try:
        return _write(data_root(data_dir))
    except OSError as error:
        fallback = Path(tempfile.gettempdir()) / f"synthtwin-{os.getuid()}"
        LOG.warning("cannot write the gateway's assets (%s); using %s", error, fallback)
        return _write(fallback)


def _write(data_dir: Path) -> CrowdAssets:
    models = ensure_synth_models(synth_model_dir(data_dir))
    body_file = models / "smpl" / model_filename("neutral", CROWD_LOD, "npz")
    return CrowdAssets(str(body_file.resolve()), str(synth_clip_dir(data_dir).resolve()))
