"""Shared fixtures: one real Redis server per test session, a clean database per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mas.redis_connect import connect_redis, connect_redis_sync
from mas_gateway.embedded_redis import EmbeddedRedis


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the working directory or a MAS_* variable changes a test's outcome.

    Each test runs in an empty directory with an empty home (a kept `mas demo`, a
    gateway's witness file or credential files are never read) and no MAS_* settings.
    """
    for name in list(os.environ):
        if name.startswith("MAS_") and name != "MAS_TEST_REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """URL of a real Redis: MAS_TEST_REDIS_URL if set, else a server started for the session."""
    configured = os.environ.get("MAS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with EmbeddedRedis() as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The server's URL, with the database flushed before the test."""
    client = connect_redis_sync(redis_server_url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server_url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio client on the flushed database, closed after the test."""
    client = connect_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans, recorded by an SDK provider (installed once per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    try:
        yield exporter
    finally:
        processor.shutdown()
