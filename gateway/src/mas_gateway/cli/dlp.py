"""``mas dlp scan``: try the DLP rules on sample payloads.

Reads one JSON payload (a file, or stdin) or JSONL (``--jsonl``: one payload per
line) and prints one JSON line per payload::

    {"action": "redact", "route": "patient to clinician",
     "findings": [{"type": "US_SSN", "path": "$.ssn", "start": 0, "end": 11, "score": 0.85}]}

Values are not printed unless ``--show-values`` asks for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mas.errors import ConfigError

from ..settings import default_policies_dir

if TYPE_CHECKING:  # the engine imports Presidio and spaCy: only when a command needs it
    from ..dlp.engine import DLPEngine

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
    from ..dlp.decisions import acted_findings, value_of

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
    from ..dlp.engine import DLPEngine

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
