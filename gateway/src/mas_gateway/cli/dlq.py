"""``mas dlq``: list dead letters and replay them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .common import (
    add_gateway_key_option,
    add_json_option,
    add_redis_option,
    pinned_gateway_keys,
    print_json,
    printable,
    run_async,
)

if TYPE_CHECKING:
    from ..dlq import DeadLetter

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``dlq`` command group."""
    parser = subparsers.add_parser("dlq", help="list and replay dead letters")
    sub = parser.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    show = sub.add_parser("list", help="dead letters with their reason (no payloads)")
    show.add_argument("--count", type=int, default=100, help="at most this many (oldest first)")
    add_json_option(show)
    add_redis_option(show)
    show.set_defaults(func=_list)
    replay = sub.add_parser(
        "replay", help="put a gateway-signed dead letter back into its agent's inbox"
    )
    replay.add_argument("name", nargs="+", help="dead letter(s) as `mas dlq list` names them")
    add_gateway_key_option(replay, "whose signature a replayed delivery must carry")
    add_redis_option(replay)
    replay.set_defaults(func=_replay)


def _list(args: argparse.Namespace) -> int:
    from mas.redis_connect import connect_redis

    from ..dlq import list_dead_letters

    async def run() -> int:
        client = connect_redis(args.redis_url)
        try:
            letters = await list_dead_letters(client, count=args.count)
        finally:
            await client.aclose()
        if args.json:
            print_json([letter.summary() for letter in letters])
            return 0
        for letter in letters:
            what = f"{letter.sender_id or '?'} -> {letter.owner} [{_what(letter)}]"
            error = f" ({letter.error})" if letter.error else ""
            print(printable(f"{letter.name}  {what}: {letter.reason}{error}"))
        if not letters:
            print("no dead letters")
        return 0

    return run_async(run())


def _what(letter: DeadLetter) -> str:
    """The message type, or for gateway dead letters (no payload) id, size and digest."""
    if letter.message_type or letter.envelope_sha256 is None:
        return letter.message_type or "?"
    size = "?" if letter.envelope_bytes is None else str(letter.envelope_bytes)
    return (
        f"message {letter.message_id or 'unparsed'}, {size} bytes, "
        f"sha256 {letter.envelope_sha256[:16]}"
    )


def _replay(args: argparse.Namespace) -> int:
    from mas import crypto
    from mas.redis_connect import connect_redis

    from ..dlq import ReplayError, replay_dead_letter

    trusted = {
        kid: crypto.load_public_key(value)
        for kid, value in pinned_gateway_keys(args.gateway_key).items()
    }

    async def run() -> int:
        client = connect_redis(args.redis_url)
        failed = 0
        try:
            for name in args.name:
                try:
                    new_id = await replay_dead_letter(client, name, trusted)
                except ReplayError as exc:
                    print(f"not replayed: {exc}")
                    failed += 1
                else:
                    print(f"replayed {name} as {new_id}")
        finally:
            await client.aclose()
        return 1 if failed else 0

    return run_async(run())
