"""Ingress shards: every process maps an agent to the same shard, and shard tags are no agent's."""

from __future__ import annotations

import re

import pytest

from mas import keys
from mas.patterns import AGENT_ID_PATTERN


def test_an_agent_always_maps_to_the_same_shard_and_agents_spread() -> None:
    ids = [f"agent-{n}" for n in range(400)]
    shards = [keys.ingress_shard(a) for a in ids]
    assert shards == [keys.ingress_shard(a) for a in ids]
    assert set(shards) == set(range(keys.INGRESS_SHARDS))
    # crc32, not Python's per-process salted hash(): the same in every process.
    assert keys.ingress_shard("doctor") == 10


def test_a_shard_tag_is_no_agents_tag() -> None:
    tags = {keys.shard_tag(n) for n in range(keys.INGRESS_SHARDS)}
    assert len(tags) == keys.INGRESS_SHARDS
    for tag in tags:
        assert not re.match(AGENT_ID_PATTERN, tag.strip("{}"))


@pytest.mark.parametrize("shard", [-1, keys.INGRESS_SHARDS])
def test_a_shard_outside_the_range_is_refused(shard: int) -> None:
    with pytest.raises(ValueError, match=f"shard {shard} is not in"):
        keys.shard_tag(shard)
