"""Load a policies directory into a `PolicySet`, collecting every problem with its file:line."""

from __future__ import annotations

from pathlib import Path

from .cases import PolicyTestCase, parse_cases
from .circuits import CircuitPolicy, parse_circuits
from .errors import Issue, PolicyError
from .model_file import ModelSpec, parse_model
from .policyset import PolicySet
from .ratelimits import RateLimits, parse_ratelimits
from .roles import RoleGraph
from .rules import BASE_ROLE, Link, Rule, parse_policy_lines, parse_role_lines
from .sources import MODEL_FILE, POLICY_FILE, ROLES_FILE, PolicySources, read_sources

__all__ = ["build_policy_set", "load_policy_set"]


def load_policy_set(policies_dir: str | Path) -> PolicySet:
    """Read and validate every file; `PolicyError` (a `ConfigError`) lists all problems."""
    return build_policy_set(read_sources(policies_dir))


def build_policy_set(sources: PolicySources) -> PolicySet:
    """Validate already-read sources into a `PolicySet`."""
    issues: list[Issue] = []
    model: ModelSpec | None = None
    ratelimits: RateLimits | None = None
    cases: list[PolicyTestCase] = []
    try:
        model = parse_model(sources)
    except PolicyError as exc:
        issues.extend(exc.issues)
    rules: list[Rule] = []
    links: list[Link] = []
    try:
        rules, found = parse_policy_lines(sources)
        issues.extend(found)
    except PolicyError as exc:
        issues.extend(exc.issues)
    try:
        links, found = parse_role_lines(sources)
        issues.extend(found)
    except PolicyError as exc:
        issues.extend(exc.issues)
    for kind in ("g", "g2"):
        graph = RoleGraph([link for link in links if link.kind == kind])
        issues.extend(graph.check(sources.display(ROLES_FILE)))
    try:
        ratelimits = parse_ratelimits(sources)
    except PolicyError as exc:
        issues.extend(exc.issues)
    circuits = CircuitPolicy()
    try:
        circuits = parse_circuits(sources)
    except PolicyError as exc:
        issues.extend(exc.issues)
    try:
        cases = parse_cases(sources)
    except PolicyError as exc:
        issues.extend(exc.issues)
    if issues or model is None or ratelimits is None:
        raise PolicyError(issues)
    try:
        policy = PolicySet(
            sources=sources,
            model=model,
            rules=rules,
            links=links,
            ratelimits=ratelimits,
            circuits=circuits,
            test_cases=cases,
            warnings=_lint(sources, rules, links),
        )
    except Exception as exc:
        raise PolicyError(
            [Issue(sources.display(MODEL_FILE), 0, f"Casbin cannot load the policy: {exc}")]
        ) from exc
    _dry_run(policy, sources, model)
    return policy


def _dry_run(policy: PolicySet, sources: PolicySources, model: ModelSpec) -> None:
    """Evaluate one request so that a matcher that fails at run time fails here instead."""
    probe = policy.rules[0] if policy.rules else None
    try:
        policy.decide(probe.sub if probe else BASE_ROLE, "mas.probe", "mas.probe")
    except Exception as exc:
        file = sources.display(MODEL_FILE)
        raise PolicyError(
            [Issue(file, model.matcher_line, f"matcher fails on a request: {exc}")]
        ) from exc


def _lint(sources: PolicySources, rules: list[Rule], links: list[Link]) -> list[Issue]:
    """Warnings: names in policy.csv that roles.csv never mentions (often a typo)."""
    role_names = {BASE_ROLE} | {name for link in links if link.kind == "g" for name in
                                (link.member, link.parent)}  # fmt: skip
    group_names = {
        name for link in links if link.kind == "g2" for name in (link.member, link.parent)
    }
    file = sources.display(POLICY_FILE)
    warnings: list[Issue] = []
    for rule in rules:
        if rule.sub not in role_names:
            warnings.append(
                Issue(
                    file,
                    rule.line,
                    f"subject {rule.sub!r} is in no g line of {ROLES_FILE}; it only matches an "
                    "agent with that id or a role set in the registry",
                    "warning",
                )
            )
        if rule.obj != "*" and rule.obj not in group_names:
            warnings.append(
                Issue(
                    file,
                    rule.line,
                    f"target {rule.obj!r} is in no g2 line of {ROLES_FILE}; it only matches an "
                    "agent with that id",
                    "warning",
                )
            )
    return warnings
