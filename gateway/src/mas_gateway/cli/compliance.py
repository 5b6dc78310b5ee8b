"""``mas compliance``: the evidence report for auditors, and a check of controls.yaml."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mas.errors import ConfigError

from .common import add_redis_option, pinned_keys, progress

if TYPE_CHECKING:  # the compliance and audit modules load in the handlers
    from ..audit.report import Witness
    from ..compliance.controls import Controls

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``compliance`` command group."""
    parser = subparsers.add_parser("compliance", help="compliance evidence for auditors")
    sub = parser.add_subparsers(dest="compliance_command", required=True, metavar="ACTION")

    report = sub.add_parser(
        "report",
        help="write an HTML report and its JSON twin (exit 1 when a control fails)",
        description="Verify the audit log, run the policy tests, read the policy version "
        "history and evaluate every control of controls.yaml; write DIR/report.html and "
        "DIR/report.json. Exit 0 written, 1 written but a control failed, 2 usage error.",
    )
    report.add_argument(
        "--since",
        default="30d",
        help="start of the period: 2026-01-31, 2026-01-31T08:00:00Z (UTC) or 7d, 12h "
        "(default: %(default)s)",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=Path("compliance-report"),
        help="directory to write report.html and report.json into (default: %(default)s)",
    )
    add_redis_option(report, demo_data=True)
    report.add_argument(
        "--policies",
        type=Path,
        default=None,
        help="the policies directory deployed (default: ./policies, else the repository's)",
    )
    _add_controls_option(report)
    report.add_argument(
        "--archive-dir",
        type=Path,
        default=None,
        help="where archived audit segments are, when not where mas audit archive wrote them",
    )
    report.add_argument(
        "--pubkey",
        action="append",
        default=[],
        metavar="KEY",
        help="verify the audit log with this gateway public key only: base64, or a file "
        "holding one per line (repeatable; default: the keys published in Redis)",
    )
    report.add_argument(
        "--witness",
        type=Path,
        default=None,
        help="a checkpoint kept outside Redis (mas audit checkpoint, a proof or an export): "
        "the log must still contain it",
    )
    report.add_argument(
        "--witness-shard",
        type=int,
        default=0,
        choices=range(16),
        metavar="N",
        help="the ingress shard whose audit log --witness is a checkpoint of (default: 0)",
    )
    report.set_defaults(func=_report)

    check = sub.add_parser(
        "check", help="validate controls.yaml: fields, rules, and every evidence command"
    )
    _add_controls_option(check)
    check.set_defaults(func=_check)


def _add_controls_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--controls",
        type=Path,
        default=None,
        help="controls file (default: ./compliance/controls.yaml, else the repository's)",
    )


def _controls(args: argparse.Namespace) -> Controls:
    """Load controls.yaml and check its commands against this CLI; ConfigError otherwise."""
    from ..compliance import command_problems, default_controls_file, load_controls
    from ..compliance.controls import ControlsError
    from . import build_parser

    path: Path = args.controls or default_controls_file()
    controls = load_controls(path)
    problems = command_problems(controls, build_parser())
    if problems:
        raise ControlsError([f"{path.name}: {problem}" for problem in problems])
    return controls


def _check(args: argparse.Namespace) -> int:
    from ..compliance.controls import ControlsError
    from ..compliance.rules import RULES

    try:
        controls = _controls(args)
    except ControlsError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s): the controls file is invalid", file=sys.stderr)
        return 1
    frameworks = sorted({control.framework for control in controls.controls})
    rules = sorted({rule.name for control in controls.controls for rule in control.rules})
    print(
        f"ok: {len(controls.controls)} controls ({', '.join(frameworks)}); "
        f"{len(rules)} of {len(RULES)} evidence rules used; every evidence command parses"
    )
    return 0


def _witness(path: Path | None) -> Witness | None:
    if path is None:
        return None
    from ..audit.errors import AuditFormatError
    from ..audit.offline import load_witness

    try:
        return load_witness(path)
    except (AuditFormatError, ValueError, KeyError) as exc:
        raise ConfigError(f"--witness {path} is not a checkpoint, proof or export: {exc}") from exc


def _report(args: argparse.Namespace) -> int:
    import asyncio

    from ..compliance import generate_report, parse_since, write_report
    from ..paths import default_policies_dir

    since = parse_since(args.since, now=time.time())
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out} exists and is not a directory")
    policies: Path = args.policies or default_policies_dir()
    trusted = pinned_keys(args.pubkey)
    witness = _witness(args.witness)
    controls = _controls(args)
    document = asyncio.run(
        generate_report(
            controls,
            redis_url=args.redis_url,
            policies_dir=policies,
            since=since,
            archive_dir=args.archive_dir,
            trusted=trusted,
            witness=witness,
            witness_shard=args.witness_shard,
            progress=progress,
        )
    )
    progress("compliance report: writing the report")
    html_path, json_path = write_report(document, args.out)
    summary = document["summary"]
    tests = document["policy"]["tests"]
    audit = "verified" if document["audit_verification"]["ok"] else "FAILED verification"
    print(f"wrote {html_path} and {json_path}")
    print(
        f"period {document['period']['since']} to {document['period']['until']}: "
        f"{document['decisions']['total']} decisions; audit log {audit}; "
        f"policy tests {tests['passed']}/{tests['total']}"
    )
    print(
        f"controls: {summary['pass']} pass, {summary['fail']} fail, "
        f"{summary['manual']} need a person"
    )
    for control in document["controls"]:
        if control["status"] == "fail":
            print(f"FAIL {control['id']}: {control['reason']}")
    return 0 if summary["ok"] else 1
