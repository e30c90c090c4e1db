"""``twin token``, ``twin cert`` and ``twin keys``: access tokens, a TLS certificate and CURVE keys.

    twin token create --role R --name N [--expires 30d]   prints the token once
    twin token list                                       id, name, role, created, expires
    twin token revoke ID|NAME
    twin cert create [--host H ...] [--out DIR]           cert.pem and key.pem (self-signed)
    twin keys create --server | --role R --name N         CURVE key pairs for ZeroMQ

Files go where ``twin serve`` reads them with the same ``--config``: the token file and the key
folder are settings of ``[security]`` (the token file next to the checkpoint by default).
"""

from __future__ import annotations

import argparse
import shutil
from datetime import UTC, datetime
from pathlib import Path

from synthtwin.engine.config import load_config
from synthtwin.net.auth import Role, TokenStore, parse_duration_s
from synthtwin.net.keys import create_curve_keys, create_self_signed_cert

__all__ = ["COMMANDS", "register"]

ROLE_NAMES = tuple(role.label for role in Role)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``token``, ``cert`` and ``keys`` commands to the ``twin`` parser."""
    token = commands.add_parser("token", help="create, list or revoke access tokens")
    token.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a token and print it once")
    create.add_argument("--role", choices=ROLE_NAMES, required=True)
    create.add_argument("--name", required=True, help="who or what the token is for")
    create.add_argument("--expires", default=None, help="lifetime such as 30d, 12h (never)")
    actions.add_parser("list", help="the tokens, without their secrets")
    revoke = actions.add_parser("revoke", help="remove a token")
    revoke.add_argument("key", metavar="ID|NAME")

    cert = commands.add_parser("cert", help="make a self-signed TLS certificate")
    cert_actions = cert.add_subparsers(dest="action", required=True)
    cert_create = cert_actions.add_parser("create", help="write cert.pem and key.pem")
    cert_create.add_argument(
        "--host", action="append", default=None, help="a name or address (127.0.0.1, localhost)"
    )
    cert_create.add_argument("--out", type=Path, default=Path("data/tls"), help="(data/tls)")

    keys = commands.add_parser("keys", help="make CURVE key pairs for ZeroMQ")
    keys.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    key_actions = keys.add_subparsers(dest="action", required=True)
    key_create = key_actions.add_parser("create", help="the server's pair, or a client's")
    which = key_create.add_mutually_exclusive_group(required=True)
    which.add_argument("--server", action="store_true", help="the server's key pair")
    which.add_argument("--role", choices=ROLE_NAMES, help="a client's role")
    key_create.add_argument("--name", default=None, help="the client's name (with --role)")


def _token(args: argparse.Namespace) -> int:
    store = TokenStore(load_config(args.config).tokens_file)
    if args.action == "create":
        expires = parse_duration_s(args.expires) if args.expires else None
        token = store.create(Role.parse(args.role), args.name, expires)
        print(token)
        print(f"(shown once; {args.role} token '{args.name}' saved in {store.path})")
    elif args.action == "list":
        print(f"{'id':8}  {'role':8}  {'created (UTC)':16}  {'expires (UTC)':16}  name")
        for record in store.records():
            expires = _utc(record.expires_s) if record.expires_s is not None else "never"
            print(
                f"{record.id:8}  {record.role.label:8}  {_utc(record.created_s):16}  "
                f"{expires:16}  {record.name}"
            )
    else:
        record = store.revoke(args.key)
        print(f"revoked {record.id} ({record.name}, {record.role.label})")
    return 0


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def _cert(args: argparse.Namespace) -> int:
    cert, key = create_self_signed_cert(args.out, args.host or ["127.0.0.1", "localhost"])
    print(f"certificate: {cert}\nprivate key: {key}")
    print(f'serve with: [security] tls_cert = "{cert}", tls_key = "{key}"')
    return 0


def _keys(args: argparse.Namespace) -> int:
    folder = load_config(args.config).security.keys_dir
    if args.server:
        public, secret = create_curve_keys(folder, "server")
        print(f"server key pair: {public} (give this one to clients), {secret}")
        return 0
    if not args.name:
        raise ValueError("a client's key pair needs --name")
    public, secret = create_curve_keys(folder / "secrets", args.name)
    allowed = folder / "clients" / args.role
    allowed.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(public, allowed / public.name)
    print(f"{args.role} client '{args.name}': give the client {secret} and {folder}/server.key")
    return 0


COMMANDS = {"token": _token, "cert": _cert, "keys": _keys}
