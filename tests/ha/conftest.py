"""Multi-node Redis fixtures: a Sentinel-managed primary with replicas, and a 3-master cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mas_gateway.embedded_ha import EmbeddedCluster, EmbeddedSentinel


@pytest.fixture
def sentinel_setup() -> Iterator[EmbeddedSentinel]:
    """A primary, two replicas and three sentinels of its own (tests may kill the primary)."""
    with EmbeddedSentinel(replicas=2, sentinels=3, down_after_ms=1000) as setup:
        yield setup


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[EmbeddedCluster]:
    """A 3-master Redis Cluster for the session (slots split evenly, ACLs on)."""
    with EmbeddedCluster(masters=3) as cluster:
        yield cluster
