"""Zero trust: each attack an agent (or anyone on the Redis port) could try, run for real.

Every test is written as the attack, with a real agent's own Redis user against a
production-mode gateway, and fails if the attack succeeds.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from mas import Agent, AgentMessage, MASService, acl, crypto, keys
from mas.envelope import Envelope, sign_submission
from mas.errors import ConfigError
from mas.provisioning import apply_agent_rules, provision_agent
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.audit.witness import WitnessFile
from mas_gateway.cli import main
from mas_gateway.signing import write_signing_key

from ..auditlog import audit_xrange
from ..polling import wait_until
from ..principals import gateway_url, service_url
from .helpers import (
    REPO_POLICIES,
    Hold,
    ProbeAgent,
    World,
    connect_as,
    deliveries,
    gateway_settings,
    idle,
    notices,
)


def strict_gateway(redis_url: str, tmp_path: Path, **overrides: Any) -> GatewayService:
    """A production-mode gateway: auto-provisioning off, an operator-made key."""
    settings = gateway_settings(redis_url, tmp_path, auto_provision=False, **overrides)
    if not settings.signing_key_path.exists():
        write_signing_key(settings.signing_key_path)
    return GatewayService(settings)


async def refused(coro: object) -> None:
    """The command must be refused (by the ACLs, or for DEBUG by the server's own setting)."""
    try:
        await coro  # type: ignore[misc]
    except NoPermissionError:
        return
    except ResponseError as exc:
        if "not allowed" in str(exc):
            return
        raise
    pytest.fail("the command was allowed")


@pytest.mark.parametrize(
    "command", acl.forbidden_for_agent("doctor", "patient"), ids=lambda c: " ".join(c[:2])
)
async def test_every_forbidden_command_is_refused_for_real(
    world: World, command: tuple[str, ...]
) -> None:
    await refused(world.doctor.client.execute_command(*command))


async def test_nobody_without_credentials_gets_in(redis_client: aioredis.Redis) -> None:
    options = redis_client.connection_pool.connection_kwargs
    anonymous = aioredis.Redis(
        host=options["host"], port=options["port"], retry=Retry(NoBackoff(), 0)
    )
    try:
        with pytest.raises((AuthenticationError, ResponseError)):
            await anonymous.hgetall(keys.agent_trust("doctor"))
    finally:
        await anonymous.aclose()


async def test_impersonation_by_rewriting_another_agents_key_fails(
    world: World, redis_url: str
) -> None:
    mallory_key = crypto.generate_private_key()
    await refused(
        world.doctor.client.hset(
            keys.agent_identity("patient"), "public_key", crypto.public_key_to_b64(mallory_key)
        )
    )
    await refused(
        world.doctor.client.hset(keys.agent_trust("patient"), "token_hash", crypto.hash_token("x"))
    )
    await refused(world.doctor.client.xadd(keys.agent_outbox("patient"), {"envelope": "{}"}))
    # In her own outbox, an envelope naming patient as sender is refused (401) even if signed.
    forged = Envelope(sender_id="patient", target_id="doctor", message_type="consultation.request")
    await world.doctor.submit_fields(sign_submission(forged, mallory_key, world.doctor.token))
    async with strict_gateway(redis_url, world.tmp) as gateway:
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "doctor")
        [notice] = await notices(world.admin, gateway, "doctor")
    assert [d.gateway.kind for d in delivered] == ["rejection"]
    assert notice["code"] == 401 and "outbox" in notice["reason"]


async def test_an_agent_cannot_grant_itself_roles_or_undo_its_revocation(world: World) -> None:
    await refused(world.doctor.client.hset(keys.agent_trust("doctor"), "roles", '["admin"]'))
    await refused(world.doctor.client.hdel(keys.agent_trust("doctor"), "revoked_at"))
    # Writing "roles" into its own profile changes nothing the gateway reads.
    await world.doctor.client.hset(keys.agent_record("doctor"), "roles", '["admin"]')
    trust = await world.admin.hgetall(keys.agent_trust("doctor"))
    assert json.loads(trust[b"roles"]) == ["doctor"]


async def test_a_forged_gateway_key_is_never_pinned(
    world: World, redis_url: str, tmp_path: Path
) -> None:
    await refused(world.doctor.client.hset(keys.GATEWAY_KEYS, "evil", "AAAA"))
    # Even the administrator's Redis is not where provisioning takes the key from.
    fake = crypto.public_key_to_b64(crypto.generate_private_key())
    await world.admin.hset(keys.GATEWAY_KEYS, "fake", fake)
    key = tmp_path / "gw.key"
    real = write_signing_key(key)
    out = tmp_path / "carol.json"
    code = await asyncio.to_thread(
        main,
        ["agent", "provision", "carol", "--out", str(out), "--gateway-key",
         str(key.with_name("gw.key.pub")), "--redis-url", redis_url],
    )  # fmt: skip
    assert code == 0
    assert json.loads(out.read_text())["gateway_keys"] == {real.key_id: real.public_key_b64}


async def test_replay_is_refused_and_its_nonce_is_out_of_reach(
    world: World, redis_url: str
) -> None:
    envelope = world.doctor.envelope("patient", "consultation.response", {"n": 1})
    fields = sign_submission(envelope, world.doctor.key, world.doctor.token)
    await world.doctor.submit_fields(fields)
    async with strict_gateway(redis_url, world.tmp) as gateway:
        await idle(gateway)
        await refused(world.doctor.client.delete(keys.nonce("doctor", envelope.nonce)))
        await world.doctor.submit_fields(fields)  # the captured submission, again
        await idle(gateway)
        assert len(await deliveries(world.admin, gateway, "patient")) == 1
    assert gateway.counts["unauthenticated"] == 1


async def test_the_rate_limit_cannot_be_lifted(world: World, redis_url: str) -> None:
    async with strict_gateway(redis_url, world.tmp) as gateway:
        await world.doctor.send("patient", "consultation.response", {})
        await idle(gateway)
        await refused(world.doctor.client.delete(keys.rate_limit_bucket("doctor")))
        await refused(world.doctor.client.hset(keys.rate_limit_bucket("doctor"), "tokens", "1e9"))


async def test_nobody_reads_or_trims_another_agents_submissions(world: World) -> None:
    await world.patient.send("doctor", "consultation.request", {"q": "private"})
    await refused(world.doctor.client.xrange(keys.agent_outbox("patient")))
    await refused(world.doctor.client.xread({keys.agent_outbox("patient"): "0"}))
    await refused(
        world.doctor.client.xadd(
            keys.agent_outbox("patient"), {"x": "y"}, maxlen=0, approximate=False
        )
    )
    await refused(
        world.patient.client.xrange(keys.agent_outbox("patient"))
    )  # not even its own token
    assert await world.admin.xlen(keys.agent_outbox("patient")) == 1


async def test_no_agent_writes_an_outbox_of_its_own_shard_but_its_own(world: World) -> None:
    neighbour_id = next(
        f"nurse{n}"
        for n in range(10_000)
        if keys.ingress_shard(f"nurse{n}") == keys.ingress_shard("doctor")
    )
    neighbour = await ProbeAgent.provision(world.admin, neighbour_id, ["nurse"])
    theirs = keys.agent_outbox(neighbour_id)
    assert keys.shard_tag(keys.ingress_shard("doctor")) in theirs  # one slot with doctor's
    await refused(world.doctor.client.xadd(theirs, {"envelope": "{}"}))
    await refused(world.doctor.client.xrange(theirs))
    await refused(world.doctor.client.xtrim(theirs, maxlen=0))
    await refused(world.doctor.client.delete(theirs))
    await world.doctor.client.xadd(keys.agent_outbox("doctor"), {"x": "y"})  # its own: allowed
    await neighbour.client.xadd(theirs, {"x": "y"})
    assert await world.admin.xlen(theirs) == 1


async def test_nobody_reads_another_agents_mail_or_state(world: World) -> None:
    await world.admin.hset(keys.agent_state("patient"), "secret", '"x"')
    await refused(world.doctor.client.hgetall(keys.agent_state("patient")))
    await refused(world.doctor.client.hset(keys.agent_state("patient"), "secret", '"y"'))
    await refused(world.doctor.client.xrange(keys.agent_stream("patient")))
    await refused(
        world.doctor.client.xreadgroup(
            keys.AGENTS_GROUP, "spy", {keys.agent_stream("patient"): ">"}, count=1
        )
    )
    await refused(world.doctor.client.delete(keys.agent_done("patient", "m1")))


async def test_a_forged_dead_letter_is_not_replayed(
    world: World, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await refused(world.doctor.client.xadd(keys.DLQ, {"dlq_reason": "x"}))
    await refused(world.doctor.client.xadd(keys.agent_dlq("patient"), {"dlq_reason": "x"}))
    key = write_signing_key(tmp_path / "gw.key")
    forged = Envelope(sender_id="patient", target_id="doctor", message_type="consultation.request")
    entry = await world.doctor.client.xadd(
        keys.agent_dlq("doctor"),
        {"envelope": forged.model_dump_json(), "signature": "AAAA", "key_id": key.key_id,
         "dlq_reason": "handler failed"},
    )  # fmt: skip
    name = f"doctor/{entry.decode()}"
    code = await asyncio.to_thread(
        main, ["dlq", "replay", name, "--gateway-key", str(tmp_path / "gw.key"),
               "--redis-url", redis_url],
    )  # fmt: skip
    assert code == 1
    assert "not a gateway-signed delivery" in capsys.readouterr().out
    assert await world.admin.xlen(keys.agent_stream("doctor")) == 0


async def test_erasing_the_audit_log_fails_verification(
    world: World, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = keys.ingress_shard("doctor")
    await refused(world.doctor.client.delete(keys.audit_log(shard), keys.audit_checkpoints(shard)))
    gateway = strict_gateway(redis_url, world.tmp)
    async with gateway:
        await world.doctor.send("patient", "consultation.response", {})
        await idle(gateway)
        assert gateway.checkpointer is not None
        await gateway.checkpointer.checkpoint_now()
    witness = WitnessFile(gateway.settings.witness_path).for_shard(shard).path
    assert witness.is_file()  # the gateway keeps one witness per shard it checkpointed
    # Someone with the administrator's password wipes the log: Redis alone looks clean...
    await world.admin.delete(keys.audit_log(shard), keys.audit_checkpoints(shard))
    verify = ["audit", "verify", "--redis-url", redis_url]
    # ...but not next to the gateway's witness.
    assert (
        await asyncio.to_thread(main, [*verify, "--shard", str(shard), "--witness", str(witness)])
        == 1
    )
    assert "erased" in capsys.readouterr().err
    # And the gateway refuses to sign over the erased log.
    async with strict_gateway(redis_url, world.tmp) as again:
        await world.doctor.send("patient", "consultation.response", {})
        await idle(again)
        assert again.checkpointer is not None
        with pytest.raises(Exception, match="went back"):
            await again.checkpointer.checkpoint_now()


async def test_a_production_gateway_refuses_agents_with_too_many_rights(
    world: World, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mas_gateway.acl_check")
    await world.admin.execute_command("ACL", "SETUSER", "agent.doctor", "+@all", "~*")
    with pytest.raises(ConfigError, match=r"agent\.doctor may run: HSET agent:\{doctor\}:trust"):
        await strict_gateway(redis_url, world.tmp).start()
    await apply_agent_rules(world.admin, "doctor")  # the operator restores least privilege
    async with strict_gateway(redis_url, world.tmp):
        pass
    assert any("least privilege checked" in r.message for r in caplog.records)


async def test_a_production_gateway_refuses_anonymous_access(world: World, redis_url: str) -> None:
    await world.admin.execute_command(
        "ACL", "SETUSER", "default", "on", "nopass", "+ping", "+get", "~*"
    )
    try:
        with pytest.raises(ConfigError, match="without credentials"):
            await strict_gateway(redis_url, world.tmp).start()
    finally:
        await world.admin.execute_command("ACL", "SETUSER", "default", "off", "resetpass", "-@all")


class Recorder(Agent):
    def __init__(self, agent_id: str, **kwargs: object) -> None:
        super().__init__(agent_id, **kwargs)  # type: ignore[arg-type]
        self.got: list[AgentMessage] = []

    @Agent.on("consultation.request")
    async def consult(self, message: AgentMessage, payload: None) -> None:
        self.got.append(message)


async def test_sdk_agents_run_as_their_own_least_privileged_users(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """End to end with the SDK: the agents' connections carry their own users only."""
    key = write_signing_key(tmp_path / "gw.key")
    creds = {}
    for agent_id, roles in (("doctor", ["doctor"]), ("patient", ["patient"])):
        out = tmp_path / f"{agent_id}.json"
        issued = await provision_agent(redis_client, agent_id, roles)
        body = {
            "agent_id": agent_id, "token": issued.token, "private_key": issued.private_key_b64,
            "redis_username": issued.redis_username, "redis_password": issued.redis_password,
            "gateway_keys": {key.key_id: key.public_key_b64},
        }  # fmt: skip
        out.write_text(json.dumps(body))
        out.chmod(0o600)
        creds[agent_id] = out
    settings = gateway_settings(
        redis_url, tmp_path, auto_provision=False, signing_key_path=tmp_path / "gw.key"
    )
    assert settings.redis_url == gateway_url(redis_url)
    doctor = Recorder("doctor", credentials=creds["doctor"], redis_url=redis_url)
    patient = Agent("patient", credentials=creds["patient"], redis_url=redis_url)
    async with GatewayService(settings) as gateway, doctor, patient:
        await patient.send("doctor", "consultation.request", {"q": "cough"})
        async with asyncio.timeout(10):
            while not doctor.got:
                await gateway.wait_idle()
                await doctor.wait_idle()
        clients = await redis_client.client_list()
        users = {c["user"] for c in clients}
    assert doctor.got[0].sender_verified
    assert {"agent.doctor", "agent.patient", "mas-gateway"} <= users


async def test_trimming_its_own_outbox_does_not_erase_a_decision(
    world: World, redis_url: str
) -> None:
    """The agent deletes a submission the gateway is deciding on: it is still audited."""
    Hold.reached, Hold.release = asyncio.Event(), asyncio.Event()
    stages = ["parse", "authn", "authz", "target", "ratelimit", "hold", "dlp"]
    settings = gateway_settings(
        redis_url, world.tmp, auto_provision=False, stages=stages, claim_idle_ms=300
    )
    write_signing_key(settings.signing_key_path)
    async with GatewayService(settings) as gateway:
        await world.doctor.send("patient", "consultation.response", {"card": "4111 1111 1111 1111"})
        async with asyncio.timeout(10):
            await Hold.reached.wait()
        # As the agent: append nothing and trim everything (the only trim it may do).
        outbox = keys.agent_outbox("doctor")
        await world.doctor.client.xadd(outbox, {"x": "y"}, maxlen=0, approximate=False)
        assert await world.admin.xlen(outbox) == 0

        async def claim_dropped() -> bool:  # the gateway renewed its claims: Redis dropped it
            return (await world.admin.xpending(outbox, keys.GATEWAY_GROUP))["pending"] == 0

        await wait_until(claim_dropped, 10, "the gateway to renew its claims")
        Hold.release.set()
        await idle(gateway)
        [notice] = await notices(world.admin, gateway, "doctor")
        logged = await audit_xrange(world.admin)
    assert notice["code"] == 451
    decisions = [parse_entry(fields[b"entry"])["decision"] for _, fields in logged]
    assert "blocked" in decisions


async def test_new_credentials_undo_what_the_old_holder_left(
    world: World, redis_url: str, tmp_path: Path
) -> None:
    """After a compromise: its outbox ids pushed to the end, its state planted."""
    top = "18446744073709551615-18446744073709551615"
    await world.doctor.client.xadd(keys.agent_outbox("doctor"), {"x": "y"}, id=top)
    await world.doctor.client.hset(keys.agent_state("doctor"), "approved_limit", "1000000000")
    await refused(
        world.doctor.client.execute_command(
            "XGROUP", "SETID", keys.agent_stream("doctor"), keys.AGENTS_GROUP, "$"
        )
    )
    issued = await provision_agent(
        world.admin, "doctor", ["doctor"], replace_key=True, reset_state=True
    )
    assert not await world.admin.exists(keys.agent_state("doctor"))
    fresh = connect_as(world.admin, issued.redis_username, issued.redis_password)
    envelope = Envelope(
        sender_id="doctor", target_id="patient", message_type="consultation.response"
    )
    key = crypto.load_private_key(issued.private_key_b64)
    await fresh.xadd(keys.agent_outbox("doctor"), sign_submission(envelope, key, issued.token))
    async with strict_gateway(redis_url, world.tmp) as gateway:
        await idle(gateway)
        [delivered] = await deliveries(world.admin, gateway, "patient")
    assert delivered.envelope.message_id == envelope.message_id


async def test_an_unsolicited_error_report_is_not_taken_for_a_refusal(
    world: World, redis_url: str, tmp_path: Path
) -> None:
    """`mas.error` may go anywhere, but an agent only listens to reports on what it sent."""
    refusals: list[AgentMessage] = []

    class Patient(Agent):
        async def on_rejected(self, notice: AgentMessage) -> None:
            refusals.append(notice)

    key = write_signing_key(tmp_path / "gw.key")
    body = {
        "agent_id": "patient", "token": world.patient.token,
        "private_key": crypto.private_key_to_b64(world.patient.key),
        "redis_username": "agent.patient",
        "redis_password": str(world.patient.client.connection_pool.connection_kwargs["password"]),
        "gateway_keys": {key.key_id: key.public_key_b64},
    }  # fmt: skip
    creds = tmp_path / "patient.json"
    creds.write_text(json.dumps(body))
    creds.chmod(0o600)
    settings = gateway_settings(
        redis_url, tmp_path, auto_provision=False, signing_key_path=tmp_path / "gw.key"
    )
    patient = Patient("patient", credentials=creds, redis_url=redis_url, block_ms=50)
    async with GatewayService(settings) as gateway, patient:
        await world.doctor.send(
            "patient", "mas.error", {"code": 403, "reason": "your account is closed"},
            in_reply_to="0123456789abcdef",
        )  # fmt: skip
        await idle(gateway)
        await patient.wait_idle()
        letters = await world.admin.xrange(keys.agent_dlq("patient"))
    assert refusals == []
    assert [f[b"dlq_reason"] for _, f in letters] == [
        b"error report from doctor about no message sent to it"
    ]


async def test_a_malformed_event_does_not_stop_the_relay(
    world: World, redis_url: str, redis_client: aioredis.Redis
) -> None:
    listener = redis_client.pubsub()
    await listener.subscribe(keys.SYSTEM_CHANNEL)
    try:
        async with MASService(service_url(redis_url)):
            await world.doctor.client.publish(keys.agent_events_channel("doctor"), "[" * 100_000)
            good = json.dumps({"type": "STATUS", "agent_id": "doctor", "status": "ACTIVE"})
            await world.doctor.client.publish(keys.agent_events_channel("doctor"), good)
            async with asyncio.timeout(5):
                while True:
                    msg = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
                    if msg is not None:
                        break
    finally:
        await listener.aclose()
    assert json.loads(msg["data"])["agent_id"] == "doctor"


async def test_an_unknown_target_id_is_not_repeated(world: World, redis_url: str) -> None:
    target = "card-4539148803436467-JaneRoberts"
    async with strict_gateway(redis_url, world.tmp) as gateway:
        await world.doctor.send(target, "consultation.response", {})
        await idle(gateway)
        [notice] = await notices(world.admin, gateway, "doctor")
        [(_id, fields)] = await audit_xrange(world.admin)
    assert notice["code"] == 403 and target not in json.dumps(notice)  # authz runs first
    assert target.encode() not in fields[b"entry"]


async def test_a_large_message_costs_more_of_the_rate_limit(world: World, redis_url: str) -> None:
    """Scanning cost grows with size, and so does the price: a patient's bucket holds 5."""
    policies = world.tmp / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    limits = policies / "ratelimits.yaml"  # no refill while the test runs, however slow it is
    limits.write_text(limits.read_text().replace("rate: 1\n", "rate: 0.0001\n", 1))
    assert "rate: 0.0001" in limits.read_text()
    async with strict_gateway(redis_url, world.tmp, policies_dir=policies) as gateway:
        await world.patient.send("doctor", "consultation.request", {"note": "x" * 300_000})
        await idle(gateway)
        await world.patient.send("doctor", "consultation.request", {"note": "short"})
        await idle(gateway)
    assert gateway.counts["delivered"] + gateway.counts["redacted"] == 1
    assert gateway.counts["rate_limited"] == 1
