"""The ``[chat]`` table: mapped onto the engine's settings, the API key only from the
environment, bad values refused in one line."""

from __future__ import annotations

import pytest

from synthtwin.engine.app.serve import chat_settings
from synthtwin.engine.config import ChatConfig, ConfigError, load_config
from synthtwin.net.chat import API_KEY_ENV


def _load(tmp_path, table: str):
    path = tmp_path / "c.toml"
    path.write_text("[chat]\n" + table)
    return load_config(path)


def test_the_table_maps_onto_the_engine_settings_with_the_key_from_the_environment(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(API_KEY_ENV, "sk-env")
    config = _load(tmp_path, 'llm_base_url = "http://127.0.0.1:1/v1"\nllm_model = "m"\n'
                   "timeout_s = 3\nseed = 9\nmax_pending = 5\n")  # fmt: skip
    settings = chat_settings(config.chat)
    assert (settings.llm_base_url, settings.llm_model, settings.llm_timeout_s, settings.seed) == (
        "http://127.0.0.1:1/v1", "m", 3.0, 9,
    )  # fmt: skip
    assert settings.llm.api_key == "sk-env" and config.chat.max_pending == 5
    monkeypatch.delenv(API_KEY_ENV)
    assert chat_settings(ChatConfig()).llm is None, "without a URL the embedded engine answers"


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('llm_base_url = "ftp://x"\nllm_model = "m"\n', "expected an http:// or https:// URL"),
        ('llm_base_url = "http://x/v1"\n', "both or neither"),
        ("timeout_s = 0\n", "0 < s <= 600"),
        ("max_pending = 0\n", "1..10000"),
        ('api_key = "sk-in-a-file"\n', "unknown chat setting(s) ['api_key']"),
    ],
)
def test_bad_settings_are_refused_in_one_line(tmp_path, table, says):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, table)
    assert says in str(caught.value) and "\n" not in str(caught.value)
