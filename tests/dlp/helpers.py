"""Shared paths and small helpers for the DLP tests."""

from __future__ import annotations

from pathlib import Path

from mas_gateway.dlp import DLPEngine

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
RECOGNIZERS = POLICIES / "recognizers"


def types_found(engine: DLPEngine, payload: object) -> set[str]:
    """Entity types the global rules act on in `payload`."""
    return {f.entity_type for f in engine.evaluate(payload).findings}


def found(engine: DLPEngine, payload: object, entity: str) -> list[str]:
    """Texts of `entity` findings the global rules act on in a one-string payload {"text": ...}."""
    text = payload["text"] if isinstance(payload, dict) else ""
    return [
        text[f.start : f.end] for f in engine.evaluate(payload).findings if f.entity_type == entity
    ]
