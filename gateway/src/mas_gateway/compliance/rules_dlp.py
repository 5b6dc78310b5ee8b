"""Evidence rules on data loss prevention: the DLP policy, and what the audit log shows of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mas.errors import ConfigError

from ..policy.dlp_check import DLP_FILE
from .rules_audit import Verdict, listing

if TYPE_CHECKING:
    from ..dlp import DLPPolicy
    from .evidence import Evidence

__all__ = ["dlp_active", "dlp_configured", "dlp_enforced", "dlp_policy_protects"]

PROTECTIVE = ("block", "redact")


def _dlp_policy(evidence: Evidence) -> tuple[DLPPolicy | None, str | None]:
    """The parsed dlp.yaml of the local policies, or why there is none."""
    policy = evidence.policy.policy
    if policy is None:
        return None, "the policy files are invalid"
    if DLP_FILE not in policy.files:
        return None, f"policies/{DLP_FILE} does not exist: no DLP rules are in force"
    from ..dlp.loading.policy_file import load_rules
    from ..dlp.loading.source import FilesSource

    try:
        return load_rules(FilesSource(policy.sources.root, policy.files)), None
    except ConfigError as exc:
        return None, f"policies/{DLP_FILE} is invalid: {exc}"


def dlp_configured(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """policies/dlp.yaml exists and validates."""
    dlp, problem = _dlp_policy(evidence)
    if dlp is None:
        return "fail", problem or "no DLP policy"
    return "pass", (
        f"policies/{DLP_FILE} validates: {len(dlp.entities)} entity types, "
        f"{len(dlp.routes)} routes, default action {dlp.defaults.action}"
    )


def dlp_active(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Messages of the period were scanned by DLP, and the findings were recorded."""
    stats = evidence.stats
    if stats.dlp_scanned == 0:
        return "manual", (
            "no decision in the period records a DLP scan: check that the gateway runs "
            "the DLP stage (mas dlp scan tries the rules on sample data)"
        )
    found = sum(stats.dlp_entities.values())
    detail = f": {listing(stats.dlp_entities)}" if found else ""
    return "pass", (
        f"DLP scanned {stats.dlp_scanned} messages in the period and recorded "
        f"{found} findings by entity type{detail}"
    )


def dlp_enforced(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """No message went out unmodified when DLP's action was block or redact."""
    stats = evidence.stats
    if stats.dlp_bypassed:
        return "fail", (
            f"{stats.dlp_bypassed} messages were delivered unmodified although DLP's action "
            "was block or redact"
        )
    if stats.dlp_scanned == 0:
        return "manual", "no decision in the period records a DLP scan"
    blocked = stats.by_decision.get("blocked", 0)
    redacted = stats.by_decision.get("redacted", 0)
    return "pass", (
        f"of {stats.dlp_scanned} scanned messages none was delivered unmodified against "
        f"DLP's action; {blocked} blocked, {redacted} redacted"
    )


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):  # pyright: ignore[reportUnknownVariableType]
        raise ValueError(f"'{name}' must be a list of names")
    return [str(v) for v in value]  # pyright: ignore[reportUnknownVariableType]


def dlp_policy_protects(evidence: Evidence, params: Mapping[str, Any]) -> Verdict:
    """Each named entity type is in scope and blocked or redacted by default and on every route."""
    entities = _strings(params["entities"], "entities")
    actions = _strings(params.get("actions", list(PROTECTIVE)), "actions")
    dlp, problem = _dlp_policy(evidence)
    if dlp is None:
        return "fail", problem or "no DLP policy"
    gaps: list[str] = []
    for entity in entities:
        if entity not in dlp.entities:
            gaps.append(f"{entity} is not in the DLP scope")
            continue
        for route in (None, *dlp.routes):
            action = dlp.rule_for(entity, route).action
            if action not in actions:
                where = f"route {route.name!r}" if route is not None else "by default"
                gaps.append(f"{entity} is {action} {where}")
    if gaps:
        return "fail", f"the DLP policy lets data through: {'; '.join(gaps[:6])}"
    return "pass", (
        f"{', '.join(entities)}: {' or '.join(actions)} by default and on all "
        f"{len(dlp.routes)} routes of policies/{DLP_FILE}"
    )
