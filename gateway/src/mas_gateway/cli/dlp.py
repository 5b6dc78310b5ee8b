"""``mas dlp scan``: try the DLP rules on sample payloads; ``mas dlp evaluate``: score them.

Reads one JSON payload (a file, or stdin) or JSONL (``--jsonl``: one payload per
line) and prints one JSON line per payload::

    {"action": "redact", "route": "patient to clinician",
     "findings": [{"type": "US_SSN", "path": "$.ssn", "start": 0, "end": 11, "score": 0.85}]}

Values are not printed unless ``--show-values`` asks for them.

``mas dlp evaluate FILE...`` scores the engine and plain Presidio on labelled JSONL
corpora in one run and prints per-type recall for both (see ``benchmarks.dlp_evaluate``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mas.errors import ConfigError

if TYPE_CHECKING:  # the engine imports Presidio and spaCy: only when a command needs it
    from ..dlp.engine.engine import DLPEngine

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``dlp`` command group."""
    dlp = subparsers.add_parser("dlp", help="data loss prevention tools")
    sub = dlp.add_subparsers(dest="dlp_command", metavar="ACTION", required=True)
    scan = sub.add_parser("scan", help="scan JSON payloads with the DLP rules")
    scan.add_argument("file", nargs="?", help="JSON (or JSONL) file; default or '-': stdin")
    scan.add_argument("--jsonl", action="store_true", help="one payload per line")
    scan.add_argument(
        "--from",
        dest="sender_roles",
        action="append",
        default=[],
        metavar="ROLE",
        help="sender role (repeatable): apply the route's rules",
    )
    scan.add_argument(
        "--to",
        dest="target_groups",
        action="append",
        default=[],
        metavar="GROUP",
        help="target group (repeatable): apply the route's rules",
    )
    scan.add_argument(
        "--show-values", action="store_true", help="include each finding's text (sensitive!)"
    )
    scan.add_argument("--policies", type=Path, help="policies directory (default: ./policies)")
    scan.set_defaults(func=_scan)
    evaluate = sub.add_parser(
        "evaluate", help="score the DLP rules and plain Presidio on labelled JSONL corpora"
    )
    evaluate.add_argument("files", nargs="+", type=Path, help="labelled JSONL corpora")
    evaluate.add_argument("--policies", type=Path, help="policies directory (default: ./policies)")
    evaluate.add_argument("--no-presidio", action="store_true", help="score the engine only")
    evaluate.add_argument(
        "--show-misses", action="store_true", help="list the ids of missed and false alarms"
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(func=_evaluate)


def _payloads(stream: TextIO, jsonl: bool, name: str) -> Iterator[Any]:
    if not jsonl:
        text = stream.read()
        try:
            yield json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        return
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}:{number}: not valid JSON ({exc.msg})") from exc


def _report(engine: DLPEngine, payload: Any, args: argparse.Namespace) -> dict[str, Any]:
    from ..dlp.engine.policy_actions import acted_findings, value_of

    roles, groups = tuple(args.sender_roles), tuple(args.target_groups)
    scan = engine.scan(payload)
    result = engine.decide(scan, payload, roles, groups)
    findings = [f.to_json() for f in result.findings]
    for item in findings:
        del item["action"]
    if args.show_values:
        route = engine.policy.route_for(roles, groups)
        for item, (raw, _rule) in zip(
            findings, acted_findings(engine.policy, scan, route), strict=True
        ):
            item["value"] = value_of(payload, raw)
    out: dict[str, Any] = {"action": result.action, "findings": findings}
    if result.route is not None:
        out["route"] = result.route
    if result.redacted_paths:
        out["redacted_paths"] = list(result.redacted_paths)
    if result.error is not None:
        out["error"] = result.error
    return out


def _scan(args: argparse.Namespace) -> int:
    from ..dlp.engine.engine import DLPEngine
    from ..paths import default_policies_dir

    engine = DLPEngine.from_policies(args.policies or default_policies_dir())
    if args.file in (None, "-"):
        _print_all(engine, _payloads(sys.stdin, args.jsonl, "stdin"), args)
        return 0
    path = Path(args.file)
    try:
        stream = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    with stream:
        _print_all(engine, _payloads(stream, args.jsonl, str(path)), args)
    return 0


def _print_all(engine: DLPEngine, payloads: Iterator[Any], args: argparse.Namespace) -> None:
    for payload in payloads:
        print(json.dumps(_report(engine, payload, args), ensure_ascii=False), flush=True)


def _evaluate(args: argparse.Namespace) -> int:
    from ..benchmarks.dlp_evaluate import load_cases, mas_detector, presidio_detector, score
    from ..dlp.engine.engine import DLPEngine
    from ..paths import default_policies_dir

    cases = load_cases(args.files)
    engine = DLPEngine.from_policies(args.policies or default_policies_dir())
    engine.warm_up()
    scores = {"mas": score(cases, mas_detector(engine))}
    asked: list[str] = []
    if not args.no_presidio:
        types = {e["type"] for c in cases for e in c.entities}
        detect, asked = presidio_detector(engine.policy.engine.spacy_model, types)
        detect(cases[0].payload)  # warm-up
        scores["presidio"] = score(cases, detect)
    if args.json:
        print(json.dumps({name: _summary(s) for name, s in scores.items()}, indent=2))
        return 0
    _print_table(scores, len(cases), asked)
    if args.show_misses:
        for name, s in scores.items():
            print(f"{name} missed: {' '.join(f'{i}:{t}' for i, t in s.missed)}")
            print(f"{name} false alarms: {' '.join(s.false_alarms)}")
    return 0


def _summary(s: Any) -> dict[str, Any]:
    return {
        "message_recall": round(s.recall, 4),
        "message_precision": round(s.precision, 4),
        "clean_flagged": round(s.clean_rate, 4),
        "entity_recall": round(s.ratio(), 4),
        "evasions_flagged": f"{s.evasion_flagged}/{s.evasion}",
        "seconds": round(s.seconds, 3),
        "types": {k: {"n": v[0], "recall": round(v[1] / v[0], 4)} for k, v in s.entities.items()},
    }


def _print_table(scores: dict[str, Any], count: int, asked: list[str]) -> None:
    names = list(scores)
    head = f"{count} labelled messages"
    print(head + (f"; Presidio asked for {', '.join(asked)}" if asked else ""))
    print(f"{'type':<24}{'n':>5}" + "".join(f"{n:>10}" for n in names))
    types = sorted(scores[names[0]].entities, key=lambda k: -scores[names[0]].entities[k][0])
    for kind in types:
        n = scores[names[0]].entities[kind][0]
        print(f"{kind:<24}{n:>5}" + "".join(f"{scores[m].ratio(kind):>10.3f}" for m in names))
    rows = (
        ("entity recall", lambda s: f"{s.ratio():.3f}"),
        ("message recall", lambda s: f"{s.recall:.3f}"),
        ("message precision", lambda s: f"{s.precision:.3f}"),
        ("clean flagged", lambda s: f"{s.clean_rate:.3f}"),
        ("evasions flagged", lambda s: f"{s.evasion_flagged}/{s.evasion}"),
        ("ms per message", lambda s: f"{1000 * s.seconds / count:.2f}"),
    )
    for label, show in rows:
        print(f"{label:<29}" + "".join(f"{show(scores[m]):>10}" for m in names))
