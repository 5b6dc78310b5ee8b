"""Applying the policy to a scan: the action per finding on a route, and redaction.

The message's action is the most severe action among its findings (block >
redact > alert > allow). On redact, every finding whose action is redact is
replaced using presidio-anonymizer's operators (replace with ``<ENTITY>``, mask,
hash, redact); alert findings are delivered as they are and recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from ..loading.policy import DLPPolicy, Operator, Route, Rule, severity
from .payload import Loc, apply_replacements, number_text, render_path
from .results import DLPResult, Finding, RawFinding, ScanResult

__all__ = ["acted_findings", "decide", "value_of"]


@lru_cache(maxsize=1)
def _anonymizer() -> AnonymizerEngine:
    return AnonymizerEngine()


def _operator(entity: str, op: Operator) -> OperatorConfig:
    params = dict(op.params)
    if op.kind == "replace":
        params.setdefault("new_value", f"<{entity}>")
    if op.kind == "mask":
        params.setdefault("masking_char", "*")
        params.setdefault("chars_to_mask", 100)
        params.setdefault("from_end", False)
    return OperatorConfig(op.kind, params)


def _value_at(payload: Any, loc: Loc) -> Any:
    node = payload
    for part in loc:
        node = node[part]
    return node


def value_of(payload: Any, finding: RawFinding) -> str:
    """The sensitive text a finding points at (for explicit, opt-in display only)."""
    original = finding.loc[-1] if finding.is_key else _value_at(payload, finding.loc)
    return _text_of(original)[finding.start : finding.end]


def _text_of(value: Any) -> str:
    """The text a value was scanned as."""
    if isinstance(value, str):
        return value
    number = number_text(value)
    return number if number is not None else str(value)


def acted_findings(
    policy: DLPPolicy, scan: ScanResult, route: Route | None
) -> list[tuple[RawFinding, Rule]]:
    """Findings that reach their threshold on `route` and whose action is not allow."""
    acted: list[tuple[RawFinding, Rule]] = []
    for f in scan.findings:
        rule = policy.rule_for(f.entity_type, route)
        if f.score >= rule.threshold and rule.action != "allow":
            acted.append((f, rule))
    return acted


def _redact_text(text: str, items: Iterable[tuple[RawFinding, Rule]]) -> str:
    results: list[RecognizerResult] = []
    operators: dict[str, OperatorConfig] = {}
    for i, (f, rule) in enumerate(items):
        # One operator key per finding, so each keeps its own rule's operator.
        key = f"{f.entity_type}#{i}"
        results.append(RecognizerResult(key, f.start, f.end, f.score))
        config = _operator(f.entity_type, rule.operator)
        operators[key] = config
    return _anonymizer().anonymize(text=text, analyzer_results=results, operators=operators).text


def redact(
    payload: Any, items: Iterable[tuple[RawFinding, Rule]]
) -> tuple[dict[str, Any], list[tuple[Loc, tuple[int, ...], bool]]]:
    """The payload with each finding's text replaced, and where replacements happened."""
    by_text: dict[tuple[Loc, bool], list[tuple[RawFinding, Rule]]] = defaultdict(list)
    for f, rule in items:
        by_text[(f.loc, f.is_key)].append((f, rule))
    values: dict[Loc, str] = {}
    keys: dict[Loc, str] = {}
    where: list[tuple[Loc, tuple[int, ...], bool]] = []
    for (loc, is_key), group in by_text.items():
        original = loc[-1] if is_key else _value_at(payload, loc)
        (keys if is_key else values)[loc] = _redact_text(_text_of(original), group)
        where.append((loc, group[0][0].positions, is_key))
    redacted = apply_replacements(payload, values, keys)
    return redacted if isinstance(redacted, dict) else {"value": redacted}, where


def decide(
    policy: DLPPolicy,
    scan: ScanResult,
    payload: Mapping[str, Any] | Any,
    sender_roles: Iterable[str] = (),
    target_groups: Iterable[str] = (),
) -> DLPResult:
    """The decision for `payload` (already scanned into `scan`) on the route it travels."""
    route = policy.route_for(sender_roles, target_groups)
    route_name = route.name if route is not None else None
    if scan.error is not None:
        return DLPResult("block", route=route_name, error=scan.error)
    hidden = scan.hidden_keys()
    acted = acted_findings(policy, scan, route)
    if not acted:
        return DLPResult("allow", route=route_name)
    action = max((rule.action for _f, rule in acted), key=severity)
    findings = tuple(
        Finding(
            f.entity_type,
            render_path(f.loc, f.positions, hidden),
            f.start,
            f.end,
            f.score,
            r.action,
        )
        for f, r in acted
    )
    if action != "redact":
        return DLPResult(action, findings, route=route_name)
    redacted, where = redact(payload, [(f, r) for f, r in acted if r.action == "redact"])
    paths = tuple(dict.fromkeys(render_path(loc, pos, hidden) for loc, pos, _k in where))
    return DLPResult(action, findings, redacted, paths, route=route_name)
