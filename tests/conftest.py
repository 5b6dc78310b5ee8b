"""Shared fixtures: one real Redis server per test process, a clean database per test.

Under pytest-xdist every worker is its own session, so each worker starts its own
server and tests of two workers never share a database.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mas.errors import ConfigError
from mas.redis_connect import connect_redis, connect_redis_sync
from mas_gateway.embedded_redis import EmbeddedRedis


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers per core (addopts caps it at four).

    Most tests spend much of their wall time waiting on Redis, a child process or a
    server they started; a second worker per core runs while the first one waits.
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return 2 * len(os.sched_getaffinity(0))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with `slow` tests first, then the others by their number of tests, files
    with `exclusive` tests last.

    Under `--dist loadfile` a worker takes the next file when it is done: the long files
    start first, so the run never ends waiting on one of them while the other workers
    idle. An exclusive test waits until no other worker runs a test, which in a busy
    run means until the others have no work left: taken last, it keeps no worker
    waiting while work is queued. The order within a file is kept.
    """
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def weight(tests: list[pytest.Item]) -> tuple[bool, bool, int]:
        exclusive = any(t.get_closest_marker("exclusive") is not None for t in tests)
        slow = any(t.get_closest_marker("slow") is not None for t in tests)
        return (exclusive, not slow, -len(tests))

    items[:] = [item for tests in sorted(files.values(), key=weight) for item in tests]


def _run_lock(config: pytest.Config) -> int | None:
    """This run's lock file shared by its xdist workers (None in a single process)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    fd = getattr(config, "_mas_run_lock", None)
    if fd is None:
        # xdist gives each worker <run's temp dir>/popen-gwN: the run's dir is shared
        # by its workers only, and pytest removes it with the run's other files.
        basetemp = config.option.basetemp
        run_dir = Path(basetemp).parent if basetemp else Path(tempfile.gettempdir())
        path = run_dir / f"mas-tests-{workerinput['testrunuid']}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        config._mas_run_lock = fd  # type: ignore[attr-defined]
    return fd


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Tests marked `exclusive` run while no other worker runs a test.

    Every test holds the run's lock shared, an exclusive one holds it alone (the chaos
    scenarios judge recovery by the clock; a neighbour's spaCy load must not starve
    them). The wait happens before pytest-timeout starts the test's clock.
    """
    fd = _run_lock(item.config)
    if fd is None:
        yield
        return
    exclusive = item.get_closest_marker("exclusive") is not None
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the working directory or a MAS_* variable changes a test's outcome.

    Each test runs in an empty directory with an empty home (a kept `mas demo`, a
    gateway's witness file or credential files are never read) and no MAS_* settings
    (MAS_TEST_* are the suite's own: the server to use, where to copy a screenshot).
    """
    for name in list(os.environ):
        if name.startswith("MAS_") and not name.startswith("MAS_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """URL of a real Redis: MAS_TEST_REDIS_URL if set, else a server started for the session."""
    configured = os.environ.get("MAS_TEST_REDIS_URL")
    if configured:
        if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
            pytest.fail("MAS_TEST_REDIS_URL is one server every test flushes: run with -n0")
        yield configured
        return
    for attempt in range(3):  # two workers may draw the same free port: the loser retries
        server = EmbeddedRedis()
        try:
            url = server.start()
        except ConfigError:
            if attempt == 2:
                raise
            continue
        try:
            yield url
        finally:
            server.stop()
        return


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
