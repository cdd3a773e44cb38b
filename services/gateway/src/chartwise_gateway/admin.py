"""`python -m chartwise_gateway.admin`: create users and keys from a shell, printing each new key once.

    python -m chartwise_gateway.admin create-user --email trader@example.com
    python -m chartwise_gateway.admin create-key --user-id usr_... [--name laptop]
    python -m chartwise_gateway.admin list-keys --user-id usr_...
    python -m chartwise_gateway.admin revoke-key --user-id usr_... --key-id key_...

It reads the same environment as the gateway (MONGO_URL, REDIS_URL, API_KEY_PEPPER, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from chartwise_gateway.identity.models import KeyCreated, KeyPublic, UserCreated, UserPublic
from chartwise_gateway.identity.service import Identity
from chartwise_gateway.identity.store import INDEXES, IdentityStore
from chartwise_gateway.settings import Settings
from chartwise_runtime.broker import make_broker
from chartwise_runtime.errors import DomainError
from chartwise_runtime.mongo import ensure_indexes, make_mongo_client


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chartwise_gateway.admin", description="ChartWise identity admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create_user = commands.add_parser("create-user", help="create a user and a first API key")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--key-name", default="default")
    create_user.add_argument("--time-zone", default=None)
    create_key = commands.add_parser("create-key", help="give a user one more API key")
    create_key.add_argument("--user-id", required=True)
    create_key.add_argument("--name", default="default")
    list_keys = commands.add_parser("list-keys", help="a user's keys (prefixes only)")
    list_keys.add_argument("--user-id", required=True)
    revoke_key = commands.add_parser("revoke-key", help="revoke one key")
    revoke_key.add_argument("--user-id", required=True)
    revoke_key.add_argument("--key-id", required=True)
    return parser


async def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    mongo = make_mongo_client(settings)
    broker = make_broker(settings)
    try:
        db = mongo[settings.mongo_database]
        await ensure_indexes(db, INDEXES)
        identity = Identity(IdentityStore(db), pepper=settings.key_pepper)
        if args.command == "create-user":
            await broker.start()
            user, issued = await identity.register_user(
                email=args.email, key_name=args.key_name, broker=broker, time_zone=args.time_zone
            )
            return UserCreated(user=UserPublic.of(user), api_key=KeyCreated.issued(issued)).model_dump(mode="json")
        if args.command == "create-key":
            return KeyCreated.issued(await identity.issue_key(args.user_id, name=args.name)).model_dump(mode="json")
        if args.command == "list-keys":
            keys = await identity.store.keys_of(args.user_id)
            return {"items": [KeyPublic.of(k).model_dump(mode="json") for k in keys]}
        revoked = await identity.revoke_key(args.user_id, args.key_id)
        return KeyPublic.of(revoked).model_dump(mode="json")
    finally:
        await broker.stop()
        await mongo.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = asyncio.run(run(args, Settings()))
    except DomainError as error:
        sys.stderr.write(f"error: {error.code}: {error.message}\n")
        return 1
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
