"""CPU time and peak memory of processes: our own (`getrusage`), children and Redis (``/proc``).

CPU is what a process spent on a core (user and system seconds), which stays
comparable on a machine shared with other work, unlike wall-clock time. Peak RSS
is the kernel's high-water mark (``VmHWM``) for the life of the process. Reading
``/proc`` works on Linux only; elsewhere the figures of other processes are None.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CpuSample", "own_usage", "redis_sample", "tree_sample"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far and peak RSS of a process (or a process and its children)."""

    user_s: float
    sys_s: float
    peak_rss_kb: int | None
    processes: int = 1

    def since(self, start: CpuSample) -> CpuSample:
        """CPU used between `start` and this sample; the peak RSS is this sample's."""
        return CpuSample(
            max(0.0, self.user_s - start.user_s),
            max(0.0, self.sys_s - start.sys_s),
            self.peak_rss_kb,
            self.processes,
        )

    def as_dict(self, messages: int) -> dict[str, Any]:
        """JSON-ready figures, with CPU microseconds per message."""
        cpu = self.user_s + self.sys_s
        return {
            "cpu_user_s": round(self.user_s, 3),
            "cpu_sys_s": round(self.sys_s, 3),
            "cpu_us_per_msg": round(cpu * 1e6 / messages, 1) if messages else None,
            "peak_rss_mb": None if self.peak_rss_kb is None else round(self.peak_rss_kb / 1024, 1),
            "processes": self.processes,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CpuSample:
        """Rebuild a sample a worker process reported (see `own_usage`)."""
        return cls(float(raw["user_s"]), float(raw["sys_s"]), raw.get("peak_rss_kb"))


def own_usage() -> dict[str, Any]:
    """This process's CPU seconds and peak RSS, as a worker reports them."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": usage.ru_utime, "sys_s": usage.ru_stime, "peak_rss_kb": usage.ru_maxrss}


def _stat_times(pid: int) -> tuple[float, float] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def _peak_rss_kb(pid: int) -> int | None:
    try:
        lines = (_PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def tree_sample(pid: int) -> CpuSample | None:
    """CPU so far of `pid` and its running descendants; peak RSS summed over them.

    None when the process cannot be read (gone, or not Linux). The sum of peaks is an
    upper bound of the tree's peak (they need not peak at once).
    """
    user = system = 0.0
    peak = 0
    count = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        times = _stat_times(current)
        if times is None:
            continue
        user, system = user + times[0], system + times[1]
        peak += _peak_rss_kb(current) or 0
        count += 1
        pending.extend(_children(current))
    if count == 0:
        return None
    return CpuSample(user, system, peak or None, count)


def _is_redis(pid: int) -> bool:
    try:
        name = (_PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return False
    return "redis" in name or "valkey" in name


def redis_sample(info: dict[str, Any]) -> CpuSample:
    """The server's CPU so far from ``INFO`` (``cpu`` and ``server`` sections merged).

    Its peak RSS comes from ``/proc`` when the server runs on this machine, else None.
    """
    pid = int(info.get("process_id") or 0)
    peak = _peak_rss_kb(pid) if pid and _is_redis(pid) else None
    return CpuSample(float(info["used_cpu_user"]), float(info["used_cpu_sys"]), peak)
