"""Faults injected into real processes while traffic flows: nothing acknowledged is lost.

Each scenario runs on the module's stack (see conftest.py) and asserts correctness
only: every message acknowledged to the sender is handled, a message is handled
twice only within the documented window, and every process goes back to work
without help. The default suite holds one scenario of each kind of fault (a
gateway killed and paused, a receiver killed and paused, Redis killed and stalled);
``uv run mas bench chaos`` runs every scenario, longer (see `SCENARIOS` there).
"""

from __future__ import annotations

import pytest

from mas_gateway.benchmarks.chaos.report import table
from mas_gateway.benchmarks.chaos.runner import run_scenario
from mas_gateway.benchmarks.chaos.scenarios import scenario_named
from mas_gateway.benchmarks.chaos.stack import ChaosStack

pytestmark = [pytest.mark.slow, pytest.mark.subprocess, pytest.mark.exclusive]

DEFAULT = (
    "gateway-kill",
    "gateway-stop-short",
    "receiver-kill",
    "receiver-stop",
    "redis-kill-everysec",
    "redis-stall",
)

MESSAGES = 100
RATE = 50.0


@pytest.mark.timeout(300)  # a bound, not a speed claim: a restarted gateway may start slowly
@pytest.mark.parametrize(
    "name",
    DEFAULT,
)
def test_scenario_loses_nothing_and_every_process_recovers(
    chaos_stack: ChaosStack, name: str
) -> None:
    result = run_scenario(chaos_stack, scenario_named(name), messages=MESSAGES, rate=RATE)
    assert result.passed, table([result])
    assert result.sent == MESSAGES and result.handled == MESSAGES, table([result])
