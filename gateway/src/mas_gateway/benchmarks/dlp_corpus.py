"""Adapter for labelled-corpus scorers: ``detect(payload) -> [{"type", "value", "score"}]``.

Reports what the policy acts on for a message with no route (the global rules),
with the flagged text, for scoring tools only (the gateway never exposes values):

    uv run python score.py --detector mas_gateway.benchmarks.dlp_corpus:detect --corpus dev.jsonl

The policies folder is ``MAS_DLP_POLICIES`` if set, else the gateway's default.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from mas_gateway.settings import default_policies_dir

from ..dlp.engine.engine import DLPEngine
from ..dlp.engine.policy_actions import acted_findings, value_of

__all__ = ["describe", "detect"]


@lru_cache(maxsize=1)
def _engine() -> DLPEngine:
    folder = os.environ.get("MAS_DLP_POLICIES")
    engine = DLPEngine.from_policies(Path(folder) if folder else default_policies_dir())
    engine.warm_up()
    return engine


def detect(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings the default rules act on, with the flagged text."""
    engine = _engine()
    scan = engine.scan(payload)
    return [
        {"type": f.entity_type, "value": value_of(payload, f), "score": round(f.score, 3)}
        for f, _rule in acted_findings(engine.policy, scan, None)
    ]


def describe() -> dict[str, Any]:
    """Which policy and spaCy pipeline produced the findings."""
    engine = _engine()
    return {"policy": str(engine.policy.file), "spacy_model": engine.policy.engine.spacy_model}
