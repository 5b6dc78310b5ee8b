"""Compliance evidence: controls mapped to MAS features, evaluated against the live system.

`load_controls` reads ``compliance/controls.yaml``; `generate_report` verifies the audit
log, runs the policy tests, reads the policy version history and evaluates every
control's evidence rules; `write_report` writes the HTML page and its JSON twin.
Gateways record each policy version they put in force with `record_policy_version`
(or a `PolicyHistoryRecorder` listening to their `PolicyStore`).
"""

from __future__ import annotations

from .controls import (
    Control,
    Controls,
    ControlsError,
    EvidenceRule,
    command_problems,
    default_controls_file,
    load_controls,
    parse_controls,
)
from .evidence import Evidence, collect_evidence
from .generate import generate_report, write_report
from .history import (
    PolicyFile,
    PolicyHistoryRecorder,
    PolicyVersionRecord,
    read_policy_versions,
    record_policy_version,
)
from .html import render_html
from .period import Period, parse_since
from .report import build_report
from .rules import RULES, RuleResult, RuleSpec

__all__ = [
    "RULES",
    "Control",
    "Controls",
    "ControlsError",
    "Evidence",
    "EvidenceRule",
    "Period",
    "PolicyFile",
    "PolicyHistoryRecorder",
    "PolicyVersionRecord",
    "RuleResult",
    "RuleSpec",
    "build_report",
    "collect_evidence",
    "command_problems",
    "default_controls_file",
    "generate_report",
    "load_controls",
    "parse_controls",
    "parse_since",
    "read_policy_versions",
    "record_policy_version",
    "render_html",
    "write_report",
]
