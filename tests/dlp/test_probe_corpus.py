"""The labelled probe set through the engine and plain Presidio in one run: targets hold.

The probe set is ``data/probe.jsonl`` (written apart from the development corpus: other
card brands, IBAN countries, phone and date styles, token and PEM variants, evasions,
hard negatives; ``data/make_probe.py``) plus ``data/everyday.jsonl`` (everyday sentences,
people and places from mimesis, split and reversed identifiers, clean text with streets,
firms and versions; ``data/make_everyday.py``). Matching follows the corpus scorer (see
``mas_gateway.benchmarks.dlp_evaluate``); ``mas dlp evaluate`` prints the same comparison.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mas_gateway.benchmarks.dlp_evaluate import (
    Score,
    load_cases,
    mas_detector,
    presidio_detector,
    score,
)
from mas_gateway.dlp import DLPEngine

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
PROBE = [DATA / "probe.jsonl", DATA / "everyday.jsonl"]


@pytest.fixture(scope="module")
def scores(engine: DLPEngine) -> tuple[Score, Score]:
    cases = load_cases(PROBE)
    types = {e["type"] for c in cases for e in c.entities}
    presidio, _asked = presidio_detector(engine.policy.engine.spacy_model, types)
    return score(cases, mas_detector(engine)), score(cases, presidio)


@pytest.fixture(scope="module")
def mas(scores: tuple[Score, Score]) -> Score:
    return scores[0]


def test_probe_set_is_large_and_mixed(mas: Score) -> None:
    assert mas.clean >= 300 and mas.evasion >= 80
    assert mas.tp + mas.fn >= 600 and len(mas.entities) == 19


def test_message_recall_beats_plain_presidio(scores: tuple[Score, Score]) -> None:
    mas, presidio = scores
    assert mas.recall >= presidio.recall
    assert mas.recall >= 0.95


def test_message_precision(mas: Score) -> None:
    assert mas.precision >= 0.98


def test_every_entity_type_is_found(mas: Score) -> None:
    low = {kind: round(mas.ratio(kind), 3) for kind in mas.entities if mas.ratio(kind) < 0.85}
    assert low == {}
    assert mas.ratio() >= 0.93


def test_false_positives_on_clean_messages(mas: Score) -> None:
    assert mas.clean_rate <= 0.02


def test_evasions_are_flagged(mas: Score) -> None:
    assert mas.evasion_flagged / mas.evasion >= 0.95
