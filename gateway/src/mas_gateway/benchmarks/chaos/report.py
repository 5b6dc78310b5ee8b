"""Print chaos results: one table row per scenario, then what went wrong and why."""

from __future__ import annotations

from collections.abc import Sequence

from .runner import ScenarioResult

__all__ = ["table"]

_COLUMNS = (
    ("scenario", 20),
    ("sent", 5),
    ("failed", 6),
    ("deliv", 5),
    ("handled", 7),
    ("lost", 4),
    ("dup", 3),
    ("dup!", 4),
    ("dlq", 3),
    ("strand", 6),
    ("fault s", 7),
    ("recov s", 7),
    ("catchup s", 9),
    ("at work", 7),
    ("result", 6),
)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _row(r: ScenarioResult) -> list[str]:
    at_work = sum(r.back_to_work.values())
    return [
        r.scenario,
        str(r.sent),
        str(r.send_failed),
        str(r.delivered),
        str(r.handled),
        str(r.lost),
        str(r.duplicates),
        str(r.duplicates_outside_window),
        str(r.dead_lettered),
        str(r.stranded),
        _seconds(r.fault_s),
        _seconds(r.recovery_s),
        _seconds(r.caught_up_s),
        f"{at_work}/{len(r.back_to_work)}",
        "pass" if r.passed else "FAIL",
    ]


def table(results: Sequence[ScenarioResult]) -> str:
    """The results as a text table, followed by the notes and problems of each scenario."""
    lines = [
        " ".join(
            name.rjust(width) if i else name.ljust(width)
            for i, (name, width) in enumerate(_COLUMNS)
        )
    ]
    for r in results:
        cells = _row(r)
        lines.append(
            " ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, (_n, w)) in enumerate(zip(cells, _COLUMNS, strict=True))
            )
        )
    lines.append("")
    lines.append(
        "failed: send() raised (not acknowledged); deliv: distinct messages delivered to the "
        "inbox; lost: acknowledged, never handled; dup: extra handlings; dup!: of them, outside "
        "the documented window; strand: entries the faulted process held; recov: fault end to "
        "the next handled message; catchup: fault end until everything sent before it was handled"
    )
    for r in results:
        details = [
            *r.notes,
            *(f"restart: {x}" for x in r.restarts),
            *(f"PROBLEM: {p}" for p in r.problems),
        ]
        idle = [name for name, ok in r.back_to_work.items() if not ok]
        if idle:
            details.append(f"not at work after the fault: {', '.join(idle)}")
        if details:
            lines.append(f"{r.scenario}:")
            lines += [f"  - {d}" for d in details]
    return "\n".join(lines)
