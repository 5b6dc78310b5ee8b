"""Scoring detectors on a labelled corpus: the DLP engine next to plain Presidio, in one run.

A corpus is JSONL, one ``{"payload", "entities": [{"type", "value"}], "expect", "category"}``
per line. An expected entity is found when a finding of the same type (after aliases)
overlaps its value: after NFKC, removing whitespace and invisible characters and case
folding, one contains the other, or they share a run of at least
min(len, max(4, len / 2), 24) characters (again on letters and digits only). A message
is flagged when it has at least one finding.

Plain Presidio is ``AnalyzerEngine`` with its default recognizers and the policy's spaCy
pipeline, one ``analyze()`` per message over its texts joined by newlines, asked for
the corpus types it supports (its ``DATE_TIME`` counted as a birth date and its
``MEDICAL_LICENSE`` as a DEA number, as lenient scorers do).
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from mas.errors import ConfigError

from ..dlp.engine.engine import DLPEngine
from ..dlp.engine.payload import walk
from ..dlp.engine.policy_actions import acted_findings, value_of

__all__ = [
    "ALIASES",
    "Case",
    "Detector",
    "Score",
    "load_cases",
    "mas_detector",
    "overlaps",
    "presidio_detector",
    "score",
]

Detector = Callable[[Any], list[tuple[str, str]]]
"""A payload in, (entity type, flagged text) pairs out."""

ALIASES = {"DATE_TIME": "DATE_OF_BIRTH", "MEDICAL_LICENSE": "DEA_NUMBER"}


@dataclass(frozen=True)
class Case:
    """One labelled message."""

    id: str
    payload: Any
    entities: tuple[dict[str, str], ...]
    sensitive: bool
    category: str


def load_cases(paths: Iterable[Path]) -> list[Case]:
    """Every case of the JSONL files, in order.

    Raises:
        ConfigError: a file is unreadable or a line is not a labelled case.
    """
    cases: list[Case] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                cases.append(
                    Case(
                        str(row.get("id", f"{path.name}:{number}")),
                        row["payload"],
                        tuple(row.get("entities", ())),
                        row["expect"] == "sensitive",
                        str(row.get("category", "")),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{path}:{number}: not a labelled case ({exc})") from exc
    return cases


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        c for c in folded if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc")
    ).casefold()


def _alnum(text: str) -> str:
    return "".join(c for c in _norm(text) if c.isalnum())


def overlaps(detected: str, expected: str) -> bool:
    """True when a flagged text covers enough of an expected value (see the module doc)."""
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
    """Counts of one detector over a corpus."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    clean: int = 0
    clean_flagged: int = 0
    evasion: int = 0
    evasion_flagged: int = 0
    seconds: float = 0.0
    entities: dict[str, list[int]] = field(default_factory=dict)
    """Per entity type: [expected, found]."""
    missed: list[tuple[str, str]] = field(default_factory=list)
    """(case id, entity type) of every expected entity not found."""
    false_alarms: list[str] = field(default_factory=list)
    """Ids of clean cases that were flagged."""

    @property
    def recall(self) -> float:
        """Sensitive messages flagged, over sensitive messages."""
        return self.tp / max(1, self.tp + self.fn)

    @property
    def precision(self) -> float:
        """Flagged messages that are sensitive, over flagged messages."""
        return self.tp / max(1, self.tp + self.fp)

    @property
    def clean_rate(self) -> float:
        """Clean messages flagged, over clean messages."""
        return self.clean_flagged / max(1, self.clean)

    def ratio(self, kind: str | None = None) -> float:
        """Entity recall, over all types or one."""
        rows = [v for k, v in self.entities.items() if kind is None or k == kind]
        return sum(r[1] for r in rows) / max(1, sum(r[0] for r in rows))


def _found(entity: dict[str, str], findings: Sequence[tuple[str, str]]) -> bool:
    targets = [entity["value"], *([entity["decoded"]] if entity.get("decoded") else [])]
    return any(
        kind == entity["type"] and any(overlaps(value, t) for t in targets)
        for kind, value in findings
    )


def score(cases: Sequence[Case], detect: Detector) -> Score:
    """Run `detect` over `cases` and count."""
    result = Score()
    started = time.perf_counter()
    for case in cases:
        findings = detect(case.payload)
        flagged = bool(findings)
        result.tp += flagged and case.sensitive
        result.fp += flagged and not case.sensitive
        result.fn += case.sensitive and not flagged
        if not case.sensitive:
            result.clean += 1
            result.clean_flagged += flagged
            if flagged:
                result.false_alarms.append(case.id)
        if case.category == "evasion":
            result.evasion += 1
            result.evasion_flagged += flagged
        for entity in case.entities:
            row = result.entities.setdefault(entity["type"], [0, 0])
            row[0] += 1
            hit = _found(entity, findings)
            row[1] += hit
            if not hit:
                result.missed.append((case.id, entity["type"]))
    result.seconds = time.perf_counter() - started
    return result


def mas_detector(engine: DLPEngine) -> Detector:
    """What the engine's global rules act on; pieces of one value split over fields, joined."""

    def detect(payload: Any) -> list[tuple[str, str]]:
        scan = engine.scan(payload)
        out: list[tuple[str, str]] = []
        pieces: dict[tuple[str, object], list[str]] = {}
        for f, _rule in acted_findings(engine.policy, scan, None):
            value = value_of(payload, f)
            out.append((f.entity_type, value))
            pieces.setdefault((f.entity_type, f.loc[:-1]), []).append(value)
        out.extend((kind, "".join(parts)) for (kind, _p), parts in pieces.items() if len(parts) > 1)
        return out

    return detect


def presidio_detector(model: str, types: Iterable[str]) -> tuple[Detector, list[str]]:
    """Plain Presidio's detector and the Presidio entity types it is asked for."""
    from .dlp import plain_presidio

    analyzer = plain_presidio(model)
    wanted = set(types)
    entities = sorted(
        e for e in analyzer.get_supported_entities("en") if e in wanted or ALIASES.get(e) in wanted
    )

    def detect(payload: Any) -> list[tuple[str, str]]:
        text = "\n".join(s.text for s in walk(payload))
        results = analyzer.analyze(text=text, language="en", entities=entities)
        return [(ALIASES.get(r.entity_type, r.entity_type), text[r.start : r.end]) for r in results]

    return detect, entities
