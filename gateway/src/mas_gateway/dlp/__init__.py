"""Data loss prevention: Presidio + spaCy scanning of payloads, decided by ``policies/dlp.yaml``.

The pipeline stage that runs it is `mas_gateway.stages.dlp.DLPStage`.

- `DLPEngine` — synchronous: ``evaluate(payload, sender_roles, target_groups) -> DLPResult``.
"""

from __future__ import annotations

from .engine import DLPEngine
from .policy import DLPPolicy
from .policy_file import load_policy
from .results import DLPResult, Finding, RawFinding, ScanResult

__all__ = [
    "DLPEngine",
    "DLPPolicy",
    "DLPResult",
    "Finding",
    "RawFinding",
    "ScanResult",
    "load_policy",
]
