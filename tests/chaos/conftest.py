"""One chaos stack (Redis, two gateways, two receiver instances) for the module's scenarios."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mas_gateway.benchmarks.chaos.stack import ChaosStack, StackConfig


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """A started stack; every process is killed afterwards, whatever happened."""
    # Claim idle times well above a loaded machine's scheduling delays: a takeover
    # must come from the fault, never from a slow but healthy process.
    config = StackConfig(gateway_claim_idle_ms=3000, receiver_claim_idle_s=3.0)
    with ChaosStack(tmp_path_factory.mktemp("chaos"), config) as stack:
        yield stack
