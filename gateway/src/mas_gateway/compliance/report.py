"""The report document: evidence and control statuses as one JSON object (the HTML embeds it).

Nothing in it comes from a payload: the audit log holds none, policy test cases are
listed without theirs, and the Redis URL is shown without its password.
"""

from __future__ import annotations

from typing import Any

from mas.urls import redact_url

from ..policy import DEFAULT_DENY, CaseResult, PolicySet
from .controls import Control, Controls
from .evidence import Evidence, PolicyEvidence
from .period import iso
from .rules import RuleResult, Status, combine, evaluate

__all__ = ["SCHEMA", "ControlResult", "build_report", "evaluate_controls"]

SCHEMA = "mas.compliance.report/1"


class ControlResult:
    """A control with the verdict of each of its rules and the combined status."""

    def __init__(self, control: Control, results: list[RuleResult]) -> None:
        self.control = control
        self.results = results
        self.status: Status = combine(results)

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        control = self.control
        return {
            "id": control.id,
            "framework": control.framework,
            "title": control.title,
            "requirement": control.requirement,
            "mas": control.mas,
            "coverage": control.coverage,
            "gaps": control.gaps,
            "features": list(control.features),
            "evidence_commands": list(control.commands),
            "status": self.status,
            "reason": "; ".join(r.reason for r in self.results if r.status == self.status),
            "rules": [result.to_json() for result in self.results],
        }


def evaluate_controls(controls: Controls, evidence: Evidence) -> list[ControlResult]:
    """Every control's rules run on the evidence, in file order."""
    return [
        ControlResult(control, [evaluate(r.name, evidence, r.params) for r in control.rules])
        for control in controls.controls
    ]


def _case(result: CaseResult) -> dict[str, Any]:
    case = result.case
    return {
        "ref": case.ref,
        "name": case.name,
        "from": case.sender,
        "to": case.target,
        "type": case.message_type,
        "roles": list(case.roles),
        "expect": case.expect,
        "actual": result.decision.effect,
        "rule": result.decision.rule,
        "expect_dlp_action": case.dlp_action,
        "actual_dlp_action": result.dlp_action,
        "passed": result.passed,
        "differences": [str(d) for d in result.differences],
        "notes": list(result.notes),
    }


def _policy(found: PolicyEvidence) -> dict[str, Any]:
    tests = found.tests
    results = tests.results if tests is not None else ()
    failed = len(tests.failures) if tests is not None else 0
    return {
        "directory": found.directory.name,
        "version": found.version,
        "valid": found.policy is not None,
        "problems": found.problems,
        "tests": {
            "ran": tests is not None,
            "error": found.test_error,
            "total": len(results),
            "passed": len(results) - failed,
            "failed": failed,
            "cases": [_case(result) for result in results],
        },
    }


def _rule_text(policy: PolicySet | None, rule: str, versions: set[str]) -> str | None:
    """The policy line of a rule, when the local files are the version that used it."""
    if rule == DEFAULT_DENY:
        return "no policy line allows it (default deny)"
    if policy is None or versions != {policy.version}:
        return None
    return next((str(r) for r in policy.rules if r.ref == rule), None)


def build_report(controls: Controls, evidence: Evidence) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    stats = evidence.stats
    results = evaluate_controls(controls, evidence)
    summary = {
        status: sum(r.status == status for r in results) for status in ("pass", "fail", "manual")
    }
    policy = evidence.policy.policy
    return {
        "schema": SCHEMA,
        "generated_at": iso(evidence.generated_at),
        "period": {"since": iso(evidence.period.since), "until": iso(evidence.period.until)},
        "source": {
            "redis": redact_url(evidence.redis_url),
            "policies": evidence.policy.directory.name,
            "archive_dir": str(evidence.archive_dir) if evidence.archive_dir else None,
        },
        "summary": {**summary, "controls": len(results), "ok": summary["fail"] == 0},
        "audit_verification": evidence.audit.to_json(),
        "policy": _policy(evidence.policy),
        "policy_versions": [record.to_json() for record in evidence.history],
        "policy_version_problems": evidence.history_problems,
        "decisions": {
            "total": stats.entries,
            "by_decision": dict(sorted(stats.by_decision.items())),
        },
        "denials_by_rule": [
            {
                "rule": rule,
                "count": count,
                "text": _rule_text(policy, rule, stats.denial_versions.get(rule, set())),
            }
            for rule, count in sorted(stats.denials_by_rule.items(), key=lambda i: (-i[1], i[0]))
        ],
        "dlp_findings_by_entity": [
            {
                "entity": entity,
                "count": count,
                "messages_by_decision": dict(sorted(stats.dlp_decisions_by_entity[entity].items())),
            }
            for entity, count in sorted(stats.dlp_entities.items(), key=lambda i: (-i[1], i[0]))
        ],
        "decisions_over_time": stats.timeline(),
        "controls": [result.to_json() for result in results],
    }
