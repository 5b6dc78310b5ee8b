"""Casbin behind a small interface: the enforcer's decision and a per-rule match test.

The enforcer decides; the per-rule test evaluates the model's own matcher with
Casbin's evaluator on one policy line at a time, so an explanation can list every
rule that matched, not only the one `enforce_ex` reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import casbin
from casbin.core_enforcer import CoreEnforcer

from .model_file import ModelSpec
from .rules import Link, Rule

__all__ = ["CasbinEngine"]


class CasbinEngine:
    """One Casbin enforcer loaded with a validated model, rules and role links."""

    def __init__(self, model: ModelSpec, rules: Sequence[Rule], links: Sequence[Link]) -> None:
        enforcer: Any = casbin.Enforcer(casbin.Enforcer.new_model(text=model.text))
        if rules:
            enforcer.add_policies([rule.values for rule in rules])
        for kind in ("g", "g2"):
            pairs = [[link.member, link.parent] for link in links if link.kind == kind]
            if pairs:
                enforcer.add_named_grouping_policies(kind, pairs)
        self._enforcer = enforcer
        functions: dict[str, Any] = dict(enforcer.fm.get_functions())
        for kind, assertion in enforcer.model["g"].items():
            functions[kind] = casbin.util.generate_g_function(assertion.rm)
        matcher: str = enforcer.model["m"]["m"].value
        self._matcher = CoreEnforcer._get_expression(matcher, functions)  # pyright: ignore[reportPrivateUsage]

    def enforce(self, subject: str, target: str, message_type: str) -> tuple[bool, list[str]]:
        """Casbin's verdict for one subject, with the policy line `enforce_ex` reports."""
        allowed, explain = self._enforcer.enforce_ex(subject, target, message_type)
        return bool(allowed), [str(value) for value in explain]

    def matches(self, subject: str, target: str, message_type: str, rule: Rule) -> bool:
        """Whether the model's matcher accepts `rule` for this request."""
        result = self._matcher.eval(
            {
                "r_sub": subject,
                "r_obj": target,
                "r_act": message_type,
                "p_sub": rule.sub,
                "p_obj": rule.obj,
                "p_act": rule.act,
                "p_eft": rule.eft,
            }
        )
        if isinstance(result, bool):
            return result
        if isinstance(result, int | float):
            return result != 0
        raise TypeError(f"matcher returned {type(result).__name__}, expected a boolean")
