"""Data loss prevention: Presidio + spaCy scanning of payloads, decided by ``policies/dlp.yaml``.

The pipeline stage that runs it is `mas_gateway.stages.dlp.DLPStage`.

- `DLPEngine` — synchronous: ``evaluate(payload, sender_roles, target_groups) -> DLPResult``.

Layout (each subpackage's docstring says more):

- `loading` — ``dlp.yaml`` into a validated `DLPPolicy`, from files or a policy
  version's bytes;
- `recognizers` — what is looked for: recognizer files, checksums, person names;
- `engine` — analysis (Presidio, spaCy), the pre-screen, scanning payloads, the
  policy's actions, worker processes, one engine per set of rules.

Accuracy and throughput benchmarks live in `mas_gateway.benchmarks` (``dlp*``).
"""

from __future__ import annotations

import typing as _typing

from mas.lazy import lazy_attributes as _lazy_attributes

if _typing.TYPE_CHECKING:
    from .engine.engine import DLPEngine
    from .engine.results import DLPResult, Finding, RawFinding, ScanResult
    from .loading.policy import DLPPolicy
    from .loading.policy_file import load_policy

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
    "DLPEngine": ".engine.engine",
    "DLPPolicy": ".loading.policy",
    "DLPResult": ".engine.results",
    "Finding": ".engine.results",
    "RawFinding": ".engine.results",
    "ScanResult": ".engine.results",
    "load_policy": ".loading.policy_file",
}


__getattr__ = _lazy_attributes(__name__, _HOMES)
