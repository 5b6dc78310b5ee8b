"""The policy version history: one entry per version put in force, read back exactly."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import redis.asyncio as aioredis

from mas import keys
from mas_gateway.audit.streams import stream_entries
from mas_gateway.compliance import (
    PolicyHistoryRecorder,
    read_policy_versions,
    record_policy_version,
)
from mas_gateway.policy import PolicyStore, load_policy_set

from .helpers import REPO_POLICIES


async def test_a_recorded_version_reads_back_with_every_file_digest(
    redis_client: aioredis.Redis,
) -> None:
    policy = load_policy_set(REPO_POLICIES)
    stream_id = await record_policy_version(redis_client, policy, "gw-a")

    records, problems = await read_policy_versions(redis_client)

    assert problems == []
    [record] = records
    assert record.stream_id == stream_id
    assert (record.version, record.gateway_id) == (policy.version, "gw-a")
    on_disk = {
        path.relative_to(REPO_POLICIES).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in REPO_POLICIES.rglob("*")
        if path.is_file()
    }
    assert {f.path: f.sha256 for f in record.files} == on_disk
    assert all(f.size > 0 for f in record.files)


async def test_the_store_listener_records_each_version_put_in_force(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    store = PolicyStore.load(policies)
    recorder = PolicyHistoryRecorder(redis_client, "gw-b")
    await recorder.record(store.current)
    store.add_listener(recorder.listener)
    first = store.version

    with (policies / "policy.csv").open("a", encoding="utf-8") as f:
        f.write("p, student, professors, question.followup, allow\n")
    assert (await store.reload_async()).status == "replaced"
    (policies / "roles.csv").write_text("g, broken\n", encoding="utf-8")
    assert (await store.reload_async()).status == "refused"
    await recorder.aclose()

    records, problems = await read_policy_versions(redis_client)
    assert problems == []
    assert [r.version for r in records] == [first, store.version]
    assert first != store.version
    assert [r.gateway_id for r in records] == ["gw-b", "gw-b"]
    assert records[0].time <= records[1].time
    changed = {f.path: f.sha256 for f in records[1].files}
    expected = hashlib.sha256((policies / "policy.csv").read_bytes()).hexdigest()
    assert changed["policy.csv"] == expected


async def test_a_reload_in_another_thread_is_recorded_on_the_loop(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    store = PolicyStore.load(policies)
    recorder = PolicyHistoryRecorder(redis_client, "gw-c")
    store.add_listener(recorder.listener)
    with (policies / "policy.csv").open("a", encoding="utf-8") as f:
        f.write("# a comment changes the version\n")

    async def first_entry() -> dict[str, bytes]:
        reply = await redis_client.xread({keys.POLICY_VERSIONS: "0-0"}, block=10_000, count=1)
        assert reply, "no history entry was written"
        [(_stream, entries)] = reply
        return stream_entries(entries)[0][1]

    waiter = asyncio.create_task(first_entry())
    assert (await asyncio.to_thread(store.reload)).status == "replaced"
    fields = await asyncio.wait_for(waiter, 15)
    await recorder.aclose()
    assert fields["version"].decode() == store.version


async def test_malformed_history_entries_are_reported_not_trusted(
    redis_client: aioredis.Redis,
) -> None:
    policy = load_policy_set(REPO_POLICIES)
    await record_policy_version(redis_client, policy, "gw-d")
    await redis_client.xadd(keys.POLICY_VERSIONS, {"version": "not-a-hash", "time": "1"})
    await redis_client.xadd(
        keys.POLICY_VERSIONS,
        {"version": "a" * 64, "time": "1", "gateway_id": "x", "files": "{}"},
    )

    records, problems = await read_policy_versions(redis_client)

    assert [r.gateway_id for r in records] == ["gw-d"]
    assert len(problems) == 2
    assert "is malformed (KeyError" in problems[0]
    assert "'files' is not a JSON list" in problems[1]
