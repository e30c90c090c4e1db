"""``twin token``, ``twin cert`` and ``twin keys`` (engine.app.credentials), as a user runs them."""

from __future__ import annotations

import stat

import pytest

from synthtwin.engine.app.cli import EXIT_USAGE, main
from synthtwin.net.auth import Role, TokenStore


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_token_create_prints_a_working_token_once_and_list_hides_it(tmp_path, capsys):
    assert main(["token", "create", "--role", "operator", "--name", "ops", "--expires", "7d"]) == 0
    token = capsys.readouterr().out.splitlines()[0]
    store = TokenStore(tmp_path / "data" / "tokens.json")
    assert store.check(token, Role.OPERATOR) is Role.OPERATOR
    assert main(["token", "list"]) == 0
    listed = capsys.readouterr().out
    assert "operator" in listed and "ops" in listed and token not in listed


def test_token_revoke_by_name(tmp_path, capsys):
    main(["token", "create", "--role", "viewer", "--name", "wall"])
    assert main(["token", "revoke", "wall"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert TokenStore(tmp_path / "data" / "tokens.json").records() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "revoke", "nobody"], "no token with id or name 'nobody'"),
        (["token", "create", "--role", "viewer", "--name", "x", "--expires", "3y"], "duration"),
        (["keys", "create", "--role", "viewer"], "needs --name"),
    ],
)
def test_bad_credentials_commands_say_what_is_wrong(argv, message, capsys):
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_the_token_file_follows_the_config(tmp_path, capsys):
    config = tmp_path / "twin.toml"
    config.write_text('[security]\ntokens_file = "elsewhere/tokens.json"\n')
    main(["token", "--config", str(config), "create", "--role", "admin", "--name", "root"])
    assert (tmp_path / "elsewhere" / "tokens.json").is_file()


def test_cert_and_keys_are_written_with_private_halves_0600(tmp_path, capsys):
    assert main(["cert", "create", "--out", "tls", "--host", "localhost"]) == 0
    assert stat.S_IMODE((tmp_path / "tls" / "key.pem").stat().st_mode) == 0o600
    assert main(["keys", "create", "--server"]) == 0
    assert main(["keys", "create", "--role", "analyst", "--name", "alice"]) == 0
    keys = tmp_path / "data" / "keys"
    assert (keys / "clients" / "analyst" / "alice.key").is_file()
    assert stat.S_IMODE((keys / "secrets" / "alice.key_secret").stat().st_mode) == 0o600
    assert main(["keys", "create", "--server"]) == EXIT_USAGE, "an existing pair is kept"
    assert "remove it first" in capsys.readouterr().err
