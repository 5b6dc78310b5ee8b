"""Data loss prevention: Presidio + spaCy scanning of payloads, decided by ``policies/dlp.yaml``.

- `DLPEngine` — synchronous: ``evaluate(payload, sender_roles, target_groups) -> DLPResult``.
- `DLPStage` — the gateway pipeline stage ``dlp`` (batch scan, then per-message decision).
"""

from __future__ import annotations

from .engine import DLPEngine
from .policy import DLPPolicy
from .policy_file import load_policy
from .results import DLPResult, Finding, RawFinding, ScanResult
from .stage import DLPStage

__all__ = [
    "DLPEngine",
    "DLPPolicy",
    "DLPResult",
    "DLPStage",
    "Finding",
    "RawFinding",
    "ScanResult",
    "load_policy",
]
