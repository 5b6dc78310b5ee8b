"""The labelled probe set (data/probe.jsonl) through the engine: quality targets hold.

The probe set was written apart from the development corpus, with other card
brands, IBAN countries, phone and date styles, token and PEM variants, payload
shapes, evasions and hard negatives (``data/make_probe.py`` regenerates it).
Matching follows the corpus scorer: same entity type, and values that overlap
after normalisation (one contains the other, or they share a long enough run).
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pytest

from mas_gateway.dlp import DLPEngine
from mas_gateway.dlp.decisions import acted_findings, value_of

PROBE = Path(__file__).parent / "data" / "probe.jsonl"

# Type names the engine reports that the corpus spells otherwise.
ALIASES = {"MEDICAL_LICENSE": "DEA_NUMBER", "DATE_TIME": "DATE_OF_BIRTH"}


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        c for c in folded if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc")
    ).casefold()


def _alnum(text: str) -> str:
    return "".join(c for c in _norm(text) if c.isalnum())


def _overlap(detected: str, expected: str) -> bool:
    for fold in (_norm, _alnum):
        d, e = fold(detected), fold(expected)
        if not d or not e:
            continue
        need = min(len(e), max(4, math.ceil(len(e) / 2)), 24)
        if e in d or (d in e and len(d) >= need):
            return True
        match = SequenceMatcher(None, d, e, autojunk=False)
        if match.find_longest_match(0, len(d), 0, len(e)).size >= need:
            return True
    return False


@dataclass
class Score:
    """Counts over the probe set."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    clean: int = 0
    clean_flagged: int = 0
    evasion: int = 0
    evasion_flagged: int = 0
    entities: dict[str, list[int]] = field(default_factory=dict)
    """Per entity type: [expected, found]."""

    def ratio(self, kind: str | None = None) -> float:
        """Entity recall, over all types or one."""
        rows = [v for k, v in self.entities.items() if kind is None or k == kind]
        return sum(r[1] for r in rows) / sum(r[0] for r in rows)


def _found(entity: dict[str, str], findings: list[tuple[str, str]]) -> bool:
    targets = [entity["value"], *([entity["decoded"]] if entity.get("decoded") else [])]
    return any(
        kind == entity["type"] and any(_overlap(value, t) for t in targets)
        for kind, value in findings
    )


def _detect(engine: DLPEngine, payload: Any) -> list[tuple[str, str]]:
    scan = engine.scan(payload)
    return [
        (ALIASES.get(f.entity_type, f.entity_type), value_of(payload, f))
        for f, _rule in acted_findings(engine.policy, scan, None)
    ]


@pytest.fixture(scope="module")
def score(engine: DLPEngine) -> Score:
    result = Score()
    for line in PROBE.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        findings = _detect(engine, case["payload"])
        flagged, sensitive = bool(findings), case["expect"] == "sensitive"
        result.tp += flagged and sensitive
        result.fp += flagged and not sensitive
        result.fn += sensitive and not flagged
        if case["category"] == "clean":
            result.clean += 1
            result.clean_flagged += flagged
        if case["category"] == "evasion":
            result.evasion += 1
            result.evasion_flagged += flagged
        for entity in case["entities"]:
            row = result.entities.setdefault(entity["type"], [0, 0])
            row[0] += 1
            row[1] += _found(entity, findings)
    return result


def test_probe_set_is_large_and_mixed(score: Score) -> None:
    assert score.clean >= 100 and score.evasion >= 40
    assert score.tp + score.fn >= 150 and len(score.entities) == 19


def test_message_recall_and_precision(score: Score) -> None:
    assert score.tp / (score.tp + score.fn) >= 0.97
    assert score.tp / (score.tp + score.fp) >= 0.95


def test_entity_recall(score: Score) -> None:
    assert score.ratio() >= 0.93
    assert score.ratio("PERSON") >= 0.85


def test_false_positives_on_clean_messages(score: Score) -> None:
    assert score.clean_flagged / score.clean <= 0.03


def test_evasions_are_flagged(score: Score) -> None:
    assert score.evasion_flagged / score.evasion >= 0.90
