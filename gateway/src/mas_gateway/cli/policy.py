"""``mas policy``: check, test and explain the files in `policies/`, and tell gateways to reload."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mas import keys
from mas.errors import ConfigError

from .common import add_json_option, add_redis_option, print_json, run_async

if TYPE_CHECKING:  # the policy engine (casbin) and Redis load in the handlers
    from ..policy import CaseResult, Decision, PolicyError, PolicySet, PolicyTestReport

__all__ = ["register"]

RULER = "-" * 80


def register(subparsers: Any) -> None:
    """Add the ``policy`` command group."""
    parser = subparsers.add_parser("policy", help="check, test and explain the policy files")
    sub = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    check = sub.add_parser("check", help="validate every policy file (file:line errors)")
    _add_policies_option(check)
    check.add_argument(
        "--dlp",
        action="store_true",
        help="also build the DLP engine to check the recognizer files (loads spaCy and "
        "Presidio; mas policy test and the gateway always do)",
    )
    add_json_option(check)
    check.set_defaults(func=_check)

    test = sub.add_parser("test", help="run the cases in policies/tests/*.yaml")
    _add_policies_option(test)
    test.add_argument("-v", "--verbose", action="store_true", help="list every case")
    add_json_option(test)
    test.set_defaults(func=_test)

    explain = sub.add_parser("explain", help="which rules decide (sender, target, type), and why")
    _add_policies_option(explain)
    explain.add_argument("--from", dest="sender", required=True, help="sending agent id")
    explain.add_argument("--to", dest="target", required=True, help="target agent id")
    explain.add_argument("--type", dest="message_type", required=True, help="message type")
    explain.add_argument(
        "--role",
        dest="roles",
        action="append",
        default=[],
        help="extra role, as set in the sender's registry record (repeatable)",
    )
    add_json_option(explain)
    explain.set_defaults(func=_explain)

    reload = sub.add_parser("reload", help="tell every gateway process to reload the policy")
    _add_policies_option(reload)
    add_redis_option(reload)
    reload.add_argument(
        "--no-verify",
        action="store_true",
        help="publish without first checking and testing the local policies directory",
    )
    reload.set_defaults(func=_reload)


def _add_policies_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies",
        type=Path,
        default=None,
        help="policies directory (default: ./policies, else the repository's)",
    )


def _policies_dir(args: argparse.Namespace) -> Path:
    from ..paths import default_policies_dir

    directory: Path | None = args.policies
    if directory is None:
        directory = default_policies_dir()
        if directory.is_relative_to(Path.cwd()):
            directory = directory.relative_to(Path.cwd())
    if not directory.is_dir():
        raise ConfigError(f"policies directory {directory} not found")
    return directory


def _print_issues(error: PolicyError) -> None:
    for issue in error.issues:
        print(issue, file=sys.stderr)


def _load(args: argparse.Namespace) -> PolicySet | None:
    """The policy, or None after printing its problems."""
    from ..policy import PolicyError, load_policy_set

    try:
        return load_policy_set(_policies_dir(args))
    except PolicyError as exc:
        _print_issues(exc)
        count = len(exc.issues)
        print(f"{count} problem{'s' if count != 1 else ''}: the policy is invalid", file=sys.stderr)
        return None


# -- check -----------------------------------------------------------------------
def _check(args: argparse.Namespace) -> int:
    from ..policy.dlp_check import dlp_problem, dlp_rules_problem

    policy = _load(args)
    if policy is None:
        return 1
    problem = dlp_problem(policy) if args.dlp else dlp_rules_problem(policy)
    if problem is not None:
        print(problem, file=sys.stderr)
        print("1 problem: the DLP rules are invalid", file=sys.stderr)
        return 1
    for warning in policy.warnings:
        print(warning, file=sys.stderr)
    grouping = len(policy.links)
    circuits = policy.circuits
    entries = (circuits.default is not None) + len(circuits.roles) + len(circuits.targets)
    if args.json:
        print_json(
            {
                "ok": True,
                "policies": str(policy.sources.root),
                "version": policy.version,
                "rules": len(policy.rules),
                "role_group_lines": grouping,
                "role_rate_limits": len(policy.ratelimits.roles),
                "test_cases": len(policy.test_cases),
                "circuit_entries": entries,
                "dlp_engine_checked": bool(args.dlp),
                "warnings": [str(w) for w in policy.warnings],
            }
        )
        return 0
    print(
        f"ok: {policy.sources.root} is valid (version {policy.version[:12]}; "
        f"{len(policy.rules)} rules, {grouping} role/group lines, "
        f"{len(policy.ratelimits.roles)} role rate limits, "
        f"{f'{entries} circuit entries' if entries else 'no circuits'}, "
        f"{len(policy.test_cases)} test cases"
        f"{f', {len(policy.warnings)} warnings' if policy.warnings else ''})"
    )
    return 0


# -- test ------------------------------------------------------------------------
def _case_title(policy: PolicySet, result: CaseResult) -> str:
    case = result.case
    return f"{policy.sources.display(case.file)}:{case.line}: {case.name}"


def _print_failure(policy: PolicySet, result: CaseResult) -> None:
    case, decision = result.case, result.decision
    roles = f" (registry roles: {', '.join(case.roles)})" if case.roles else ""
    print(_case_title(policy, result))
    print(f"    request:  {case.sender} -> {case.target} {case.message_type}{roles}")
    for difference in result.differences:
        print(f"  - expected {difference.field}: {difference.expected}")
        print(f"  + actual   {difference.field}: {difference.actual}")
    print(f"    reason:   {decision.reason}")
    print(f"    roles:    {', '.join(decision.roles)}")
    if decision.matched:
        for match in decision.matched:
            print(f"    matched:  {match.rule.ref}  {match.rule}")
    else:
        print("    matched:  no rule")
    print()


def _print_report(policy: PolicySet, report: PolicyTestReport, verbose: bool) -> None:
    results = report.results
    if report.failures:
        print("FAILURES")
        print(RULER)
        for result in report.failures:
            _print_failure(policy, result)
    notes = [(result, note) for result in results for note in result.notes]
    if verbose or report.failures or notes:
        print("SUMMARY")
        print(RULER)
        for result in results:
            if verbose or not result.passed:
                print(f"{_case_title(policy, result)}: {'PASS' if result.passed else 'FAIL'}")
        for result, note in notes:
            print(f"{_case_title(policy, result)}: NOTE {note}")
        print(RULER)
    total = len(results)
    passed = total - len(report.failures)
    print(f"PASS: {passed}/{total}")
    if report.failures:
        print(f"FAIL: {len(report.failures)}/{total}")


def _report_json(policy: PolicySet, report: PolicyTestReport) -> dict[str, Any]:
    cases = []
    for result in report.results:
        case = result.case
        cases.append(
            {
                "name": case.name,
                "file": policy.sources.display(case.file),
                "line": case.line,
                "passed": result.passed,
                "request": {
                    "from": case.sender,
                    "to": case.target,
                    "type": case.message_type,
                    "registry_roles": list(case.roles),
                },
                "decision": result.decision.effect,
                "rule": result.decision.rule,
                "differences": [
                    {"field": d.field, "expected": d.expected, "actual": d.actual}
                    for d in result.differences
                ],
                "notes": list(result.notes),
            }
        )
    return {
        "ok": report.ok,
        "version": policy.version,
        "total": len(report.results),
        "passed": len(report.results) - len(report.failures),
        "failed": len(report.failures),
        "cases": cases,
    }


def _test(args: argparse.Namespace) -> int:
    from ..policy import run_policy_tests
    from ..policy.dlp_check import dlp_check_for

    policy = _load(args)
    if policy is None:
        return 1
    try:
        dlp = dlp_check_for(policy)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print("1 problem: the DLP rules are invalid", file=sys.stderr)
        return 1
    report = run_policy_tests(policy, dlp)
    if not report.results:
        print(f"no test cases in {policy.sources.display('tests')}/*.yaml", file=sys.stderr)
        return 1
    if args.json:
        print_json(_report_json(policy, report))
    else:
        _print_report(policy, report, args.verbose)
    return 0 if report.ok else 1


# -- explain ---------------------------------------------------------------------
def _chain_text(decision: Decision) -> str:
    return " -> ".join(str(step) for step in decision.role_chain)


def _explain_json(policy: PolicySet, decision: Decision, args: argparse.Namespace) -> Any:
    limit = policy.rate_limit_for(decision.roles)
    document = {
        "request": {
            "from": args.sender,
            "to": args.target,
            "type": args.message_type,
            "registry_roles": sorted(set(args.roles)),
        },
        "decision": decision.effect,
        "rule": decision.rule,
        "deciding": list(decision.deciding),
        "reason": decision.reason,
        "role_chain": [{"name": step.name, "via": step.via} for step in decision.role_chain],
        "roles": list(decision.roles),
        "target_groups": list(decision.target_groups),
        "matched": [
            {
                "rule": match.rule.ref,
                "line": str(match.rule),
                "effect": match.rule.eft,
                "role_chain": [{"name": step.name, "via": step.via} for step in match.chain],
            }
            for match in decision.matched
        ],
        "shadow": [shadow.as_dict() for shadow in decision.shadow],
        "rate_limit": {"rate": limit.rate, "burst": limit.burst, "source": limit.source},
        "policy_version": policy.version,
    }
    return document


def _check_request(args: argparse.Namespace) -> None:
    """Refuse ids and types the gateway would never see (exit 2)."""
    from mas.patterns import AGENT_ID_PATTERN, MESSAGE_TYPE_PATTERN

    for option, value, pattern, what in (
        ("--from", args.sender, AGENT_ID_PATTERN, "an agent id"),
        ("--to", args.target, AGENT_ID_PATTERN, "an agent id"),
        ("--type", args.message_type, MESSAGE_TYPE_PATTERN, "a message type"),
        *(("--role", role, AGENT_ID_PATTERN, "a role name") for role in args.roles),
    ):
        if not re.match(pattern, value):
            raise ConfigError(f"{option} {value!r} is not {what}")


def _explain(args: argparse.Namespace) -> int:
    _check_request(args)
    policy = _load(args)
    if policy is None:
        return 1
    decision = policy.decide(args.sender, args.target, args.message_type, args.roles)
    if args.json:
        print_json(_explain_json(policy, decision, args))
        return 0
    limit = policy.rate_limit_for(decision.roles)
    by_ref = {match.rule.ref: match for match in decision.matched}
    deciding = by_ref.get(decision.rule)
    print(f"request:        {args.sender} -> {args.target} {args.message_type}")
    if args.roles:
        print(f"registry roles: {', '.join(sorted(set(args.roles)))}")
    print(f"decision:       {decision.effect.upper()}")
    decided_by = f"{decision.rule}  {deciding.rule}" if deciding else decision.rule
    print(f"decided by:     {decided_by}")
    for ref in decision.deciding[1:]:
        print(f"                {ref}  {by_ref[ref].rule}  (also decides)")
    print(f"reason:         {decision.reason}")
    print(f"role chain:     {_chain_text(decision)}")
    print(f"roles:          {', '.join(decision.roles)}")
    print(f"target groups:  {', '.join(decision.target_groups) or '(none)'}")
    print("matched rules:")
    if not decision.matched:
        print("  (none: nothing allows it, so the default deny applies)")
    for match in decision.matched:
        mark = "*" if match.rule.ref in decision.deciding else " "
        via = " -> ".join(str(step) for step in match.chain)
        print(f"  {mark} {match.rule.eft:<12} {match.rule.ref:<16} {match.rule}    via {via}")
    if decision.deciding:
        print("  (* decided; an explicit deny overrides every allow)")
    for shadow in decision.shadow:
        print(
            f"shadow:         {shadow.rule} ({shadow.effect}) would make it {shadow.would_be}; "
            f"enforced: {shadow.actual}"
        )
    print(f"rate limit:     {limit.rate:g}/s, burst {limit.burst:g} ({limit.source or 'default'})")
    print(f"policy version: {policy.version}")
    return 0


# -- reload ----------------------------------------------------------------------


async def _publish(url: str, message: str) -> int:
    from mas.redis_connect import connect_redis

    client = connect_redis(url)
    try:
        return int(await client.publish(keys.POLICY_RELOAD_CHANNEL, message))
    finally:
        await client.aclose()


def _reload(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from mas.urls import redact_url

    from ..policy import run_policy_tests
    from ..policy.dlp_check import dlp_check_for

    version: str | None = None
    if not args.no_verify:
        policy = _load(args)
        if policy is None:
            print("not publishing: fix the policy first (or use --no-verify)", file=sys.stderr)
            return 1
        report = run_policy_tests(policy, dlp_check_for(policy))
        if not report.ok:
            for result in report.failures:
                detail = "; ".join(str(difference) for difference in result.differences)
                print(f"{_case_title(policy, result)}: FAIL {detail}", file=sys.stderr)
            print("not publishing: policy tests fail (gateways would refuse it)", file=sys.stderr)
            return 1
        version = policy.version
    message = json.dumps(
        {
            "requested_by": f"{socket.gethostname()}:{os.getpid()}",
            "requested_at": time.time(),
            "version": version,
        }
    )
    try:
        receivers = run_async(_publish(args.redis_url, message))
    except (RedisError, OSError) as exc:
        raise ConfigError(
            f"cannot publish to Redis at {redact_url(args.redis_url)}: {exc}"
        ) from exc
    if receivers == 0:
        print(
            f"no gateway process is listening on {keys.POLICY_RELOAD_CHANNEL}; nothing reloaded",
            file=sys.stderr,
        )
        return 1
    checked = f" (local version {version[:12]} checked)" if version else ""
    print(f"reload requested from {receivers} gateway process(es){checked}")
    return 0
