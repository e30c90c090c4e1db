"""Tokens and roles (net.auth): the file keeps digests only, roles nest, revocation and expiry."""

from __future__ import annotations

import json
import stat
import time

import pytest

from synthtwin.net import auth
from synthtwin.net.auth import AuthError, Role, TokenFileError, TokenStore, parse_duration_s


def test_no_token_file_means_open_access(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    assert store.open_access
    assert store.check(None, Role.ADMIN) is Role.ADMIN


def test_revoking_the_last_token_keeps_access_closed(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.create(Role.VIEWER, "only")
    store.revoke("only")
    assert not store.open_access
    with pytest.raises(AuthError, match="a token is required"):
        store.check(None, Role.VIEWER)


def test_a_token_is_shown_once_and_only_its_digest_is_kept(tmp_path):
    path = tmp_path / "tokens.json"
    token = TokenStore(path).create(Role.ANALYST, "dashboard")
    text = path.read_text()
    assert token not in text and token.split("_")[2] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (entry,) = json.loads(text)["tokens"]
    assert entry["role"] == "analyst" and entry["name"] == "dashboard"


def test_roles_nest(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    viewer = store.create(Role.VIEWER, "wall screen")
    operator = store.create(Role.OPERATOR, "ops")
    assert store.check(viewer, Role.VIEWER) is Role.VIEWER
    assert store.check(operator, Role.ANALYST) is Role.OPERATOR
    with pytest.raises(AuthError, match="needs the analyst role; the token has viewer") as error:
        store.check(viewer, Role.ANALYST)
    assert error.value.code == "forbidden"


@pytest.mark.parametrize("token", [None, "", "st_0000_x", "Bearer abc", 12345])
def test_a_missing_or_malformed_token_is_unauthorized(tmp_path, token):
    store = TokenStore(tmp_path / "tokens.json")
    store.create(Role.VIEWER, "someone")
    with pytest.raises(AuthError) as error:
        store.check(token, Role.VIEWER)
    assert error.value.code == "unauthorized"


def test_a_forged_secret_with_a_real_id_is_refused(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create(Role.ADMIN, "root")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError, match="unknown or revoked"):
        store.check(forged, Role.VIEWER)


def test_revocation_reaches_a_running_server_without_a_restart(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "RELOAD_S", 0.0)
    path = tmp_path / "tokens.json"
    server = TokenStore(path)
    cli = TokenStore(path)
    keep = cli.create(Role.ADMIN, "keep")
    gone = cli.create(Role.VIEWER, "gone")
    assert server.check(gone, Role.VIEWER) is Role.VIEWER
    assert cli.revoke("gone").name == "gone"
    with pytest.raises(AuthError, match="unknown or revoked"):
        server.check(gone, Role.VIEWER)
    assert server.check(keep, Role.ADMIN) is Role.ADMIN


def test_an_expired_token_is_refused(tmp_path, monkeypatch):
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create(Role.VIEWER, "short", expires_in_s=60)
    assert store.check(token, Role.VIEWER) is Role.VIEWER
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(AuthError, match="has expired"):
        store.check(token, Role.VIEWER)


def test_revoking_an_unknown_token_says_what_to_do(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    with pytest.raises(
        ValueError, match="no token with id or name 'nobody'; see `twin token list`"
    ):
        store.revoke("nobody")


def test_a_broken_file_is_refused_at_start_and_kept_out_while_serving(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "RELOAD_S", 0.0)
    path = tmp_path / "tokens.json"
    store = TokenStore(path)
    token = store.create(Role.VIEWER, "v")
    path.write_text("{not json")
    with pytest.raises(TokenFileError, match="cannot be read"):
        TokenStore(path)
    assert store.check(token, Role.VIEWER) is Role.VIEWER, "the last good tokens stay"
    with pytest.raises(AuthError):
        store.check(None, Role.VIEWER)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600)]
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "-1d", "1.5h", "1y", "9999999d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="whole number and a unit"):
        parse_duration_s(text)


def test_roles_parse_by_name():
    assert Role.parse("Operator") is Role.OPERATOR
    with pytest.raises(ValueError, match="allowed: viewer, analyst, operator, admin"):
        Role.parse("root")
