"""Text forms of the gateway benchmark's figures: a block per scenario, or one line (CI)."""

from __future__ import annotations

from typing import Any

from .figures import PathResult, ScenarioResult

__all__ = ["scenario_block", "scenario_line"]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _latency(path: PathResult | None, which: str) -> float | None:
    if path is None:
        return None
    summary = path.as_dict()["latency_ms"]
    return None if summary is None else float(summary[which])


def _cpu_per_msg(path: PathResult | None) -> float | None:
    return None if path is None else path.as_dict()["cpu_us_per_msg_all_processes"]


def scenario_line(result: ScenarioResult) -> str:
    """One line: verdict, both rates, ratio, p50/p99 and CPU µs per message (gateway/plain)."""
    name = result.scenario.name
    if result.plain is None or result.gateway is None:
        return f"{name} FAIL {result.error}"
    g, p = result.gateway, result.plain
    verdict = "ok" if result.ok else "FAIL"
    line = (
        f"{name} {verdict} gateway={_num(g.msgs_per_s)}/s plain={_num(p.msgs_per_s)}/s "
        f"ratio={_num(result.ratio, 3)} "
        f"p50={_num(_latency(g, 'p50'), 2)}/{_num(_latency(p, 'p50'), 2)}ms "
        f"p99={_num(_latency(g, 'p99'), 2)}/{_num(_latency(p, 'p99'), 2)}ms "
        f"cpu={_num(_cpu_per_msg(g), 0)}/{_num(_cpu_per_msg(p), 0)}us/msg"
    )
    return line if result.ok else f"{line} ({result.error})"


def _path_row(label: str, path: PathResult) -> str:
    figures = path.as_dict()
    latency: dict[str, Any] = figures["latency_ms"] or {}
    return (
        f"  {label:<18}{_num(path.msgs_per_s):>10}{_num(path.submit_msgs_per_s):>11}"
        f"{_num(latency.get('p50'), 2):>9}{_num(latency.get('p99'), 2):>9}"
        f"{_num(figures['cpu_us_per_msg_all_processes'], 0):>12}"
    )


def _process_rows(path: PathResult) -> list[str]:
    rows: list[str] = []
    for figure in path.as_dict()["processes"]:
        usage = figure["usage"]
        if usage is None:
            rows.append(f"    {figure['name']:<12} (not measurable here)")
            continue
        peak = "-" if usage["peak_rss_mb"] is None else f"{usage['peak_rss_mb']:.0f} MB"
        extra = f" ({usage['processes']} processes)" if usage["processes"] > 1 else ""
        rows.append(
            f"    {figure['name']:<12} user {usage['cpu_user_s']:7.2f} s  "
            f"sys {usage['cpu_sys_s']:6.2f} s  {_num(usage['cpu_us_per_msg'], 0):>7} us/msg  "
            f"peak RSS {peak}{extra}"
        )
    return rows


def scenario_block(result: ScenarioResult) -> str:
    """A few lines: the configuration, both paths, the ratio, CPU and memory per process."""
    s = result.scenario
    config = result.as_dict()["config"]
    rate = f", offered {s.rate:g} msgs/s" if s.rate else ", as fast as possible"
    lines = [
        f"{s.name}: {s.description}",
        f"  {config['messages']} messages of {config['payload_bytes']} B ({s.traffic}{rate}); "
        f"{config['senders']} -> {config['receivers']} agents, {config['registered_agents']} "
        f"registered; {s.gateways} gateway process(es)"
        + (f"; {s.policy_rules} extra policy rules" if s.policy_rules else ""),
    ]
    if result.plain is not None and result.gateway is not None:
        lines.append(
            f"  {'':<18}{'msgs/s':>10}{'submit/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/msg':>12}"
        )
        lines.append(_path_row("plain streams", result.plain))
        lines.append(_path_row("through gateway", result.gateway))
        lines.append(f"  ratio to baseline {_num(result.ratio, 3):>10}")
        if result.gateway.redacted:
            lines.append(f"  redacted by the DLP: {result.gateway.redacted} messages")
        for path in (result.plain, result.gateway):
            lines.append(f"  CPU and peak memory, {path.path} path:")
            lines.extend(_process_rows(path))
    if result.ok:
        count = result.gateway.delivered if result.gateway else 0
        lines.append(f"  every message delivered exactly once on both paths ({count} each)")
    else:
        lines.append(f"  FAILED: {result.error}")
    return "\n".join(lines)
