"""The batch commit and the rate limit run their scripts by digest, and survive a script flush."""

from __future__ import annotations

from mas import keys
from mas_gateway import GatewayService
from mas_gateway.audit.entry import ENTRY_FIELD, parse_entry
from mas_gateway.audit.streams import stream_entries

from ..auditlog import audit_xrange
from .helpers import World, deliveries, gateway_settings, idle


async def test_a_script_flush_between_batches_loses_and_refuses_nothing(
    world: World, redis_url: str
) -> None:
    """After SCRIPT FLUSH (or a Redis restart) the server answers NOSCRIPT: the gateway loads
    the scripts again and commits every message once, with its audit entry."""
    async with GatewayService(gateway_settings(redis_url, world.tmp)) as gateway:
        first = await world.patient.send("doctor", "consultation.request", {"q": 1})
        await idle(gateway)
        await world.admin.script_flush()  # type: ignore[misc]
        second = await world.patient.send("doctor", "consultation.request", {"q": 2})
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "doctor")
    assert [d.envelope.message_id for d in delivered] == [first, second]
    audit = stream_entries(await audit_xrange(world.admin))
    entries = [parse_entry(fields[ENTRY_FIELD]) for _id, fields in audit]
    assert [(e["message_id"], e["decision"]) for e in entries if e] == [
        (first, "delivered"),
        (second, "delivered"),
    ]
    assert await world.admin.xlen(keys.agent_outbox("patient")) == 0
