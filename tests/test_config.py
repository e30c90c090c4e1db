"""Configuration: defaults, TOML files, overrides and clear errors."""

from dataclasses import fields
from datetime import datetime

import pytest

from synthtwin.engine.config import ConfigError, TickDivisors, load_config


def test_defaults_work_and_derive_the_tick():
    config = load_config()
    assert config.sim.twins == 1000 and config.sim.tick_hz == 30 and config.sim.time_scale == 1
    assert config.sim.dt_s == pytest.approx(1 / 30)


def test_toml_file_then_overrides(tmp_path):
    path = tmp_path / "twin.toml"
    path.write_text("[sim]\ntwins = 50\nseed = 4\nstart = 2026-03-02\ntime_scale = 60\n")
    config = load_config(path, seed=9)
    assert (config.sim.twins, config.sim.seed, config.sim.time_scale) == (50, 9, 60.0)
    assert config.sim.start == datetime(2026, 3, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sim]\ntwins = 0\n", "twins = 0 is out of range"),
        ("[sim]\ntick_hz = 'fast'\n", "sim.tick_hz = 'fast'"),
        ("[sim]\ncolour = 1\n", "unknown sim setting(s) ['colour']"),
        ("[render]\n", "unknown table(s) ['render']"),
        ("[serve]\npub_endpoint = 'http://x'\n", "a ZeroMQ endpoint"),
        ("[serve]\nvitals_hz = 0\n", "vitals_hz = 0.0 is out of range"),
        ("[serve]\ndead_reckoning_m = -0.5\n", "dead_reckoning_m = -0.5 is out of range"),
        ("[sim\n", "not valid TOML"),
        ("[sim]\ndevice = 'tpu'\n", 'expected "auto", "cpu" or "cuda"'),
        ("[sim]\ntime_scale = 100000\ntick_hz = 1\n", "at most 600 simulated s a tick"),
    ],
)
def test_bad_settings_get_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_a_missing_config_file_is_named():
    with pytest.raises(ConfigError, match="config file /no/such.toml: no such file"):
        load_config("/no/such.toml")


def test_divisors_default_to_every_tick_and_come_from_the_sim_every_table(tmp_path):
    assert {getattr(load_config().sim.every, f.name) for f in fields(TickDivisors)} == {1}
    path = tmp_path / "twin.toml"
    path.write_text("[sim]\ntwins = 5\n\n[sim.every]\nbehavior = 2\nreplication = 3\n")
    every = load_config(path).sim.every
    assert (every.behavior, every.replication, every.physiology) == (2, 3, 1)
    assert load_config(path, every={"health": 4}).sim.every == TickDivisors(health=4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sim.every]\nbehavior = 0\n", "every.behavior = 0 is out of range: expected 1..1000"),
        ("[sim.every]\nbehaviour = 2\n", "unknown sim.every setting(s) ['behaviour']; known:"),
        ("[sim.every]\nhealth = 1.5\n", "sim.every.health = 1.5: expected a whole number"),
        ("[sim.every]\nhealth = true\n", "sim.every.health = True: expected a whole number"),
        ("[sim]\nevery = 2\n", "sim.every = 2: expected a table of ticks by system"),
        (
            "[sim]\ntime_scale = 60\ntick_hz = 1\n[sim.every]\nphysiology = 20\n",
            "every.physiology * time_scale / tick_hz = 1200.0 is out of range: expected at most "
            "600 simulated s a run",
        ),
    ],
)
def test_bad_divisors_get_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
