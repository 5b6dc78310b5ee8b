"""Data loss prevention: Presidio + spaCy scanning of payloads, decided by ``policies/dlp.yaml``.

The pipeline stage that runs it is `mas_gateway.stages.dlp.DLPStage`.

- `DLPEngine` — synchronous: ``evaluate(payload, sender_roles, target_groups) -> DLPResult``.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

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


def __getattr__(name: str) -> _typing.Any:
    """Import a name on first use: reading the rules does not load Presidio and spaCy."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
