"""The `polydesk api` and `polydesk api-key` subcommands."""

from __future__ import annotations

import argparse
import sys

from core.ops.api.keys import SCOPES, KeyStore
from core.settings import load_settings


def add_api_commands(commands: argparse._SubParsersAction) -> None:
    """Register `api` (serve the HTTP API) and `api-key` (create, list, revoke keys)."""
    api = commands.add_parser("api", help="serve the HTTP API (OpenAPI schema at /api/docs)")
    api.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=8502, help="the port (default 8502)")
    api.set_defaults(run=_api)

    key = commands.add_parser("api-key", help="create, list or revoke HTTP API keys")
    actions = key.add_subparsers(required=True, metavar="ACTION", dest="action")
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who uses the key, e.g. zendesk")
    create.add_argument("--scope", choices=SCOPES, default="ask", help="ask (default) or admin")
    create.set_defaults(run=_key_create)
    actions.add_parser("list", help="list keys (never their secrets)").set_defaults(run=_key_list)
    revoke = actions.add_parser("revoke", help="revoke a key; it stops working at once")
    revoke.add_argument("name")
    revoke.set_defaults(run=_key_revoke)


def _api(args: argparse.Namespace) -> int:
    """Serve the API on the configured pipeline, after the first-start sample ingest."""
    from core.ops.api.app import serve
    from core.ops.startup import startup

    begun = startup(load_settings())
    begun.ingest_sample()
    pipeline = begun.pipeline
    keys = KeyStore(pipeline.settings.database_url)
    if not keys.has_keys():
        print("warning: no API key exists yet; create one with `polydesk api-key create --name NAME --scope ask`",
              file=sys.stderr)
    keys.close()
    serve(pipeline, args.host, args.port)
    return 0


def _key_create(args: argparse.Namespace) -> int:
    """Print a new key once."""
    key = KeyStore(load_settings().database_url).create(args.name, args.scope)
    print(key)
    print(f"Key {args.name!r} ({args.scope}) created. It is shown only now: store it in the client's secrets.",
          file=sys.stderr)
    return 0


def _key_list(args: argparse.Namespace) -> int:
    """Print every key's name, scope and dates."""
    listed = KeyStore(load_settings().database_url).list()
    if not listed:
        print("No API keys yet: `polydesk api-key create --name NAME --scope ask` creates one.")
    for key in listed:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.name:<30} {key.scope:<6} created {key.created_at:%Y-%m-%d %H:%M}  {state}")
    return 0


def _key_revoke(args: argparse.Namespace) -> int:
    """Revoke a key by name."""
    KeyStore(load_settings().database_url).revoke(args.name)
    print(f"Revoked key {args.name!r}.")
    return 0
