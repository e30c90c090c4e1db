"""The gateway's asset files (engine.app.assets): the simulation's own clips and body, by
absolute path, and a fallback when the data folder cannot be written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.synth.motion import synth_library


def test_the_gateway_animates_with_the_simulations_own_clips(tmp_path):
    assets = crowd_assets(tmp_path / "data")
    assert Path(assets.body_file).is_absolute() and Path(assets.clips_dir).is_absolute()
    loaded, own = assets.library(), synth_library()
    assert [c.name for c in loaded.clips] == [c.name for c in own.clips]
    for a, b in zip(loaded.quats, own.quats, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.stride_m, own.stride_m)
    np.testing.assert_array_equal(loaded.period_s, own.period_s)
    assert assets.body().num_vertices < 6890, "the crowd's low-poly body"


def test_written_once_then_reused(tmp_path):
    first = crowd_assets(tmp_path)
    stamp = Path(first.clips_dir).stat().st_mtime_ns
    assert crowd_assets(tmp_path) == first
    assert Path(first.clips_dir).stat().st_mtime_ns == stamp


def test_a_data_folder_that_cannot_be_written_falls_back_to_a_temporary_cache(tmp_path):
    data = tmp_path / "data"
    data.write_text("a file where the folder should be: nothing can be made under it")
    assets = crowd_assets(data)
    assert not Path(assets.clips_dir).is_relative_to(data)
    assert assets.library().clips and assets.body().num_vertices > 0
