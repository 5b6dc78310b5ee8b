"""Data loss prevention: Presidio + spaCy scanning of payloads, decided by ``policies/dlp.yaml``.

The pipeline stage that runs it is `mas_gateway.stages.dlp.DLPStage`.

- `DLPEngine` — synchronous: ``evaluate(payload, sender_roles, target_groups) -> DLPResult``.
"""

from __future__ import annotations

import typing as _typing

from mas.lazy import lazy_attributes as _lazy_attributes

if _typing.TYPE_CHECKING:
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

_HOMES = {
    "DLPEngine": ".engine",
    "DLPPolicy": ".policy",
    "DLPResult": ".results",
    "Finding": ".results",
    "RawFinding": ".results",
    "ScanResult": ".results",
    "load_policy": ".policy_file",
}


__getattr__ = _lazy_attributes(__name__, _HOMES)
