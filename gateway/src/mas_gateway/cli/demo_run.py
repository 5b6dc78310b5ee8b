"""``mas demo``: the healthcare consultation system on a local stack, narrated.

Starts an embedded Redis when none is configured, the MAS service, a gateway on
``policies/`` and the healthcare agents; prints each gateway decision as it
happens; exits 1 unless at least one message was delivered, redacted, blocked by
DLP, denied and rate limited, and the audit log verifies.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from mas import crypto, keys
from mas.urls import redact_url

from ..audit.verifier import combine_reports, verify_shards
from ..context import MessageContext
from ..demo import POLICIES
from ..demo.scenario import run_scenario
from ..devstack import DevStack
from ..service import GatewayService
from .common import DEMO_DATA_DIR, configure_logging, run_async

__all__ = ["run_demo"]

MARKS = {
    "delivered": "DELIVERED   ",
    "redacted": "REDACTED    ",
    "denied": "DENIED      ",
    "rate_limited": "RATE LIMITED",
    "blocked": "BLOCKED     ",
    "unavailable": "UNAVAILABLE ",
    "unauthenticated": "UNAUTH      ",
    "malformed": "MALFORMED   ",
    "dead_lettered": "DEAD LETTER ",
}
REQUIRED = ("delivered", "redacted", "blocked", "denied", "rate_limited")


def _printer(quiet: bool) -> Any:
    def show(ctx: MessageContext) -> None:
        if quiet:
            return
        envelope = ctx.envelope
        route = (
            f"{envelope.sender_id} -> {envelope.target_id} [{envelope.message_type}]"
            if envelope
            else "?"
        )
        mark = MARKS.get(ctx.decision or "", (ctx.decision or "?").upper())
        detail = ""
        if ctx.rejection is not None:
            detail = f"  {ctx.rejection.code} {ctx.rejection.reason}"
        elif ctx.redacted_paths:
            detail = f"  redacted {', '.join(ctx.redacted_paths)}"
        print(f"  gateway: {mark} {route}{detail}", flush=True)

    return show


async def _verify_audit(gateway: GatewayService) -> bool:
    """Checkpoint the audit log and verify it against the gateway's own key."""
    assert gateway.checkpointer is not None
    await gateway.checkpointer.checkpoint_now()
    trusted = {gateway.key.key_id: crypto.load_public_key(gateway.key.public_key_b64)}
    report = combine_reports(await verify_shards(gateway.client, trusted=trusted))
    if report.ok:
        print(
            f"audit log verified: {report.entries} entries, {report.checkpoints} signed "
            f"checkpoint(s) over {keys.INGRESS_SHARDS} shard logs",
            flush=True,
        )
        return True
    first = report.findings[0]
    print(f"audit log verification FAILED: {first}", file=sys.stderr)
    return False


def run_demo(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)

    async def run() -> int:
        say = (lambda _text: None) if args.quiet else (lambda text: print(text, flush=True))
        keep = None if args.redis_url or os.environ.get("MAS_REDIS_URL") else DEMO_DATA_DIR
        if keep is not None:
            (keep / "dump.rdb").unlink(missing_ok=True)  # each demo starts from nothing
        # The demo's own policy set: the story's outcomes depend on it, wherever it runs.
        stack = DevStack(redis_url=args.redis_url, data_dir=keep, policies_dir=POLICIES)
        async with stack:
            where = "embedded Redis" if stack.embedded else "Redis"
            print(f"MAS demo on {where} at {redact_url(stack.redis_url)}", flush=True)
            assert stack.gateway is not None
            gateway = stack.gateway
            gateway.add_listener(_printer(args.quiet))
            print(f"gateway pipeline: {' -> '.join(gateway.pipeline.names())}", flush=True)
            await run_scenario(stack.agent_options(), say)
            async with asyncio.timeout(10):
                await gateway.wait_idle()
            counts = dict(gateway.counts)
            audit_ok = await _verify_audit(gateway)
        print("summary: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        if keep is not None:
            print(
                f"the demo's data is kept in {keep}/: `mas audit verify`, `mas audit query` "
                "and `mas compliance report` read it when no Redis is configured"
            )
        if not audit_ok:
            return 1
        missing = [name for name in REQUIRED if not counts.get(name)]
        if missing:
            print(f"demo incomplete: no {', '.join(missing)} message", file=sys.stderr)
            return 1
        return 0

    from mas.otel_setup import configured_telemetry

    with configured_telemetry("mas-demo"):
        return run_async(run())
