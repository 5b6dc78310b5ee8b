"""Run several scenarios, each on a fresh stack (isolated) or all on one (faster)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .runner import ScenarioResult, run_scenario
from .scenarios import Scenario
from .stack import ChaosStack, StackConfig

__all__ = ["run_suite"]


def run_suite(
    scenarios: Sequence[Scenario],
    *,
    messages: int,
    rate: float,
    config: StackConfig | None = None,
    shared_stack: bool = False,
    work_dir: Path | None = None,
    settle_s: float = 60.0,
    on_result: Callable[[ScenarioResult], None] = lambda _r: None,
) -> list[ScenarioResult]:
    """Run `scenarios` in order; their results. Logs and journals stay in `work_dir` if given."""
    cfg = config or StackConfig()
    with tempfile.TemporaryDirectory(prefix="mas-chaos-") as tmp:
        base = work_dir or Path(tmp)
        results: list[ScenarioResult] = []
        if shared_stack:
            with ChaosStack(base / "stack", cfg) as stack:
                for scenario in scenarios:
                    result = run_scenario(
                        stack, scenario, messages=messages, rate=rate, settle_s=settle_s
                    )
                    results.append(result)
                    on_result(result)
            return results
        for scenario in scenarios:
            stack_cfg = StackConfig(**{**cfg.__dict__, "appendfsync": scenario.appendfsync})
            with ChaosStack(base / scenario.name, stack_cfg) as stack:
                result = run_scenario(
                    stack, scenario, messages=messages, rate=rate, settle_s=settle_s
                )
            results.append(result)
            on_result(result)
        return results
