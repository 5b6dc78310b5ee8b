"""PolicyStore: atomic, validated reloads; a broken policy never replaces a working one."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas_gateway.cli import main
from mas_gateway.policy import PolicyError, PolicySet, PolicyStore
from mas_gateway.policy.sources import fingerprint

from .conftest import REPO_POLICIES, line_of, replace_line

ALLOW_REPLY = "p, doctor, patients, consultation.response, allow"


def add_rule(policies: Path, line: str) -> None:
    csv = policies / "policy.csv"
    csv.write_text(csv.read_text() + line + "\n")


def break_policy(policies: Path) -> int:
    """Introduce an invalid effect; returns its line."""
    line = line_of(policies / "policy.csv", ALLOW_REPLY)
    replace_line(policies / "policy.csv", ALLOW_REPLY, ALLOW_REPLY.replace("allow", "permit"))
    return line


def reply_allowed(store: PolicyStore) -> bool:
    return store.current.decide("doctor", "patient", "consultation.response").allowed


def test_broken_reload_is_refused_and_the_old_policy_stays(
    policies: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = PolicyStore.load(policies)
    before = store.current
    line = break_policy(policies)
    with caplog.at_level(logging.ERROR, logger="mas_gateway.policy"):
        result = store.reload()
    assert result.status == "refused"
    assert (
        result.error is not None and f"policy.csv:{line}: unknown effect 'permit'" in result.error
    )
    assert store.current is before and result.version == before.version
    assert reply_allowed(store)
    refusal = [r.getMessage() for r in caplog.records if "reload refused" in r.getMessage()]
    assert refusal and before.version[:12] in refusal[0] and f"policy.csv:{line}" in refusal[0]


def test_policy_whose_tests_fail_is_refused(policies: Path) -> None:
    store = PolicyStore.load(policies)
    add_rule(policies, "p, doctor, patients, consultation.response, deny")
    result = store.reload()
    assert result.status == "refused"
    assert result.error is not None
    assert "policy test 'the doctor answers the patient' fails" in result.error
    assert "healthcare.yaml:" in result.error
    assert reply_allowed(store)


def test_valid_change_replaces_the_policy_atomically(policies: Path) -> None:
    store = PolicyStore.load(policies)
    before = store.current
    seen: list[PolicySet] = []
    store.add_listener(seen.append)
    assert not store.current.decide("doctor", "patient", "appointment.reminder").allowed
    add_rule(policies, "p, doctor, patients, appointment.*, allow")
    result = store.reload()
    assert result.status == "replaced"
    assert store.current is not before and seen == [store.current]
    assert store.current.decide("doctor", "patient", "appointment.reminder").allowed
    # the old snapshot is untouched: a message that took it keeps its decision
    assert not before.decide("doctor", "patient", "appointment.reminder").allowed
    assert store.reload().status == "unchanged"


def test_validator_can_veto_a_version(policies: Path) -> None:
    store = PolicyStore.load(policies)

    def veto(policy: PolicySet) -> None:
        if any(rule.obj == "*" and rule.act == "*" for rule in policy.rules):
            raise PolicyError([])

    store.add_validator(veto)
    add_rule(policies, "p, doctor, *, *, allow")
    assert store.reload().status == "refused"
    assert not store.current.decide("doctor", "student", "anything").allowed


def test_initial_load_refuses_a_broken_or_failing_policy(policies: Path) -> None:
    add_rule(policies, "p, doctor, patients, consultation.response, deny")
    with pytest.raises(PolicyError, match="the doctor answers the patient"):
        PolicyStore.load(policies)
    break_policy(policies)
    with pytest.raises(PolicyError, match="unknown effect 'permit'"):
        PolicyStore.load(policies)


async def test_hot_reload_on_file_change(policies: Path) -> None:
    store = PolicyStore.load(policies)
    swapped = asyncio.Event()
    store.add_listener(lambda _policy: swapped.set())
    await store.start(poll_interval=0.05)
    try:
        add_rule(policies, "p, doctor, patients, appointment.*, allow")
        await asyncio.wait_for(swapped.wait(), timeout=10)
        assert store.current.decide("doctor", "patient", "appointment.reminder").allowed
    finally:
        await store.stop()


async def test_hot_reload_refuses_a_broken_file_then_takes_the_fix(
    policies: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = PolicyStore.load(policies)
    original = store.current
    swapped = asyncio.Event()
    store.add_listener(lambda _policy: swapped.set())
    caplog.set_level(logging.ERROR, logger="mas_gateway.policy")
    await store.start(poll_interval=0.05)
    try:
        break_policy(policies)
        deadline = time.monotonic() + 10
        while not any("reload refused" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the broken policy was never looked at"
            await asyncio.sleep(0.02)
        assert store.current is original and reply_allowed(store)
        replace_line(policies / "policy.csv", ALLOW_REPLY.replace("allow", "permit"), ALLOW_REPLY)
        add_rule(policies, "# fixed")
        await asyncio.wait_for(swapped.wait(), timeout=10)
        assert store.current is not original and reply_allowed(store)
    finally:
        await store.stop()


async def test_hot_reload_via_the_redis_channel(
    policies: Path, redis_url: str, redis_client: aioredis.Redis
) -> None:
    store = PolicyStore.load(policies)
    swapped = asyncio.Event()
    store.add_listener(lambda _policy: swapped.set())
    await store.start(redis_client, poll_interval=None)
    try:
        add_rule(policies, "p, doctor, patients, appointment.*, allow")
        assert not swapped.is_set()
        argv = ["policy", "reload", "--redis-url", redis_url, "--policies", str(policies)]
        assert await asyncio.to_thread(main, argv) == 0
        await asyncio.wait_for(swapped.wait(), timeout=10)
        assert store.current.decide("doctor", "patient", "appointment.reminder").allowed
    finally:
        await store.stop()
    assert await redis_client.publish(keys.POLICY_RELOAD_CHANNEL, "{}") == 0


async def test_broken_policy_over_redis_is_refused(
    policies: Path, redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    store = PolicyStore.load(policies)
    original = store.current
    caplog.set_level(logging.ERROR, logger="mas_gateway.policy")
    await store.start(redis_client, poll_interval=None)
    try:
        break_policy(policies)
        assert await redis_client.publish(keys.POLICY_RELOAD_CHANNEL, "{}") == 1
        deadline = time.monotonic() + 10
        while not any("reload refused" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the reload request was never handled"
            await asyncio.sleep(0.02)
        assert store.current is original
    finally:
        await store.stop()


def test_mounted_config_swapped_through_a_symlink(tmp_path: Path) -> None:
    """Like a Kubernetes ConfigMap: files link into a hidden `..data` that is swapped atomically."""
    first = tmp_path / "..v1"
    shutil.copytree(REPO_POLICIES, first)
    mount = tmp_path / "mount"
    mount.mkdir()
    (mount / "..data").symlink_to(first)
    for entry in first.iterdir():
        (mount / entry.name).symlink_to(Path("..data") / entry.name)
    store = PolicyStore.load(mount)
    assert len(store.current.test_cases) == len(PolicyStore.load(REPO_POLICIES).current.test_cases)
    seen = fingerprint(mount)

    second = tmp_path / "..v2"
    shutil.copytree(first, second)
    add_rule(second, "p, doctor, patients, appointment.*, allow")
    (tmp_path / "..next").symlink_to(second)
    os.replace(tmp_path / "..next", mount / "..data")
    assert fingerprint(mount) != seen
    assert store.reload().status == "replaced"
    assert store.current.decide("doctor", "patient", "appointment.reminder").allowed


async def test_reload_channel_survives_a_dropped_connection(
    policies: Path, redis_client: aioredis.Redis
) -> None:
    """After the server drops the subscription it comes back, and changes made meanwhile load."""
    store = PolicyStore.load(policies)
    swaps: asyncio.Queue[PolicySet] = asyncio.Queue()
    store.add_listener(swaps.put_nowait)
    await store.start(redis_client, poll_interval=None)
    try:
        add_rule(policies, "p, doctor, patients, appointment.*, allow")
        assert swaps.empty()
        assert await redis_client.client_kill_filter(_type="pubsub") == 1
        first = await asyncio.wait_for(swaps.get(), timeout=10)
        assert first.decide("doctor", "patient", "appointment.reminder").allowed

        add_rule(policies, "p, doctor, patients, lab.*, allow")
        assert await redis_client.publish(keys.POLICY_RELOAD_CHANNEL, "{}") == 1
        second = await asyncio.wait_for(swaps.get(), timeout=10)
        assert second.decide("doctor", "patient", "lab.result").allowed
        assert store.current is second
    finally:
        await store.stop()
