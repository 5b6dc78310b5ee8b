"""Scanning payloads: walk, normalise, decode, one analysis per message, map findings back.

`Scanner.scan_batch` takes many payloads at once: documents that the pre-screen
clears skip Presidio entirely, documents that may hold a name go through spaCy
together (``nlp.pipe``), and every finding comes back as offsets into the
original text of the payload value it was found in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import regex

from ..loading.policy import DLPPolicy
from ..recognizers.person import name_candidates
from .analyzer import AnalyzerBundle
from .decode import decoded_runs
from .document import AnalysisDocument, DocArtifacts
from .normalize import NormalizedText, normalize
from .payload import ScanLimitExceeded, Segment, walk
from .results import RawFinding, ScanResult

__all__ = ["Scanner"]

_ALNUM = regex.compile(r"[\W_]+")
# Identifiers that may be split over adjacent fields or lines: a match spanning several
# texts is reported in each of them.
_JOINABLE = frozenset({"CREDIT_CARD", "US_SSN", "IBAN_CODE"})


@dataclass(frozen=True)
class _Text:
    """One line of the analysis document: a payload text, or text decoded from part of one."""

    segment: Segment
    text: str
    norm: NormalizedText | None
    decoded_span: tuple[int, int] | None = None


@dataclass
class _Prepared:
    texts: list[_Text]
    document: AnalysisDocument | None
    error: str | None = None
    entities: list[str] | None = None
    """Entity types worth analysing for (from the pre-screen); None: not screened yet."""
    ner: bool = False


def _key(value: str) -> str:
    return _ALNUM.sub("", value).casefold()


class Scanner:
    """Finds entities in payloads with one Presidio analysis per message."""

    def __init__(self, policy: DLPPolicy, bundle: AnalyzerBundle) -> None:
        self.policy = policy
        self.bundle = bundle
        self._floor = policy.min_threshold
        self._allow = {
            name: frozenset(_key(v) for v in e.allow_list)
            for name, e in policy.entities.items()
            if e.allow_list
        }

    def _prepare(self, payload: Any) -> _Prepared:
        settings = self.policy.engine
        try:
            segments = walk(
                payload,
                max_depth=settings.max_depth,
                max_segments=settings.max_segments,
                max_chars=settings.max_chars,
            )
        except ScanLimitExceeded as exc:
            return _Prepared([], None, str(exc))
        texts: list[_Text] = []
        for seg in segments:
            norm = normalize(seg.text)
            texts.append(_Text(seg, norm.text, norm))
            self._add_decoded(texts, seg, norm.text, None, settings.decode_depth)
        if not texts:
            return _Prepared([], None)
        document = AnalysisDocument.build([(t.segment.context, t.text) for t in texts])
        return _Prepared(texts, document)

    def _add_decoded(
        self, texts: list[_Text], seg: Segment, text: str, span: tuple[int, int] | None, depth: int
    ) -> None:
        if depth <= 0:
            return
        norm = texts[-1].norm if span is None else None
        for start, end, decoded in decoded_runs(text, self.policy.engine.decode_min_length):
            if span is None and norm is not None:
                original = norm.to_original(start, end)
            else:
                assert span is not None
                original = span
            clean = normalize(decoded).text
            texts.append(_Text(seg, clean, None, original))
            self._add_decoded(texts, seg, clean, original, depth - 1)

    def _screen(self, prep: _Prepared, document: AnalysisDocument) -> None:
        """Decide whether the document needs NER and which entity types to analyse for."""
        bundle = self.bundle
        prep.ner = bool(bundle.ner_entities) and name_candidates(document.text)
        if bundle.prescreen is None:
            prep.entities = list(bundle.entities)
            return
        wanted = set(bundle.prescreen.candidates(document.text))
        if prep.ner:
            wanted |= bundle.ner_entities
        prep.entities = [e for e in bundle.entities if e in wanted]

    def _settled(self, prep: _Prepared) -> ScanResult | None:
        """The result when no analysis is needed (unscannable, empty, or cleared); else None."""
        if prep.error is not None:
            return ScanResult((), prep.error)
        if prep.document is None:
            return ScanResult()
        if prep.entities is None:
            self._screen(prep, prep.document)
        if prep.entities:
            return None
        return ScanResult()

    def triage(self, payloads: Sequence[Any]) -> list[ScanResult | None]:
        """Results for payloads that need no analysis; None for those that do (cheap)."""
        return [self._settled(self._prepare(p)) for p in payloads]

    def scan_batch(self, payloads: Sequence[Any]) -> list[ScanResult]:
        """Scan every payload; one spaCy batch for the documents that need NER."""
        prepared = [self._prepare(p) for p in payloads]
        results: list[ScanResult | None] = [self._settled(prep) for prep in prepared]
        ner_docs: list[int] = []
        plain_docs: list[int] = []
        for i, prep in enumerate(prepared):
            if results[i] is not None or prep.document is None:
                continue
            if prep.ner:
                ner_docs.append(i)
            else:
                plain_docs.append(i)
        nlp = self.bundle.nlp
        for indexes, ner in ((ner_docs, True), (plain_docs, False)):
            documents = [prepared[i].document for i in indexes]
            docs = [d for d in documents if d is not None]
            artifacts = nlp.analyze_documents(
                docs, ner=ner, batch_size=self.policy.engine.batch_size, worth=name_candidates
            )
            for i, art in zip(indexes, artifacts, strict=True):
                results[i] = self._analyze(prepared[i], art)
        return [r if r is not None else ScanResult() for r in results]

    def _analyze(self, prep: _Prepared, artifacts: DocArtifacts) -> ScanResult:
        document = artifacts.document
        raw = self.bundle.analyzer.analyze(
            text=document.text,
            language=self.bundle.language,
            entities=prep.entities or self.bundle.entities,
            nlp_artifacts=artifacts,
            score_threshold=self._floor,
        )
        # Overlaps are settled per scanned text first: findings in text decoded from one
        # base64 run all map back to that run, and must not compete with each other there.
        local: list[RawFinding] = []
        for r in raw:
            if r.entity_type in _JOINABLE:
                parts = document.clip_all(r.start, r.end)
            else:
                clipped = document.clip(r.start, r.end)
                parts = [clipped] if clipped is not None else []
            for span, s, e in parts:
                item = prep.texts[span.index]
                allow = self._allow.get(r.entity_type)
                if allow and _key(item.text[s:e]) in allow:
                    continue
                local.append(RawFinding(r.entity_type, (span.index,), (), s, e, float(r.score)))
        found: dict[tuple[object, ...], RawFinding] = {}
        for f in _resolve(local):
            item = prep.texts[int(f.loc[0])]
            if item.decoded_span is not None:
                start, end = item.decoded_span
            else:
                assert item.norm is not None
                start, end = item.norm.to_original(f.start, f.end)
            seg = item.segment
            mapped = RawFinding(
                f.entity_type, seg.loc, seg.positions, start, end, f.score, seg.is_key
            )
            key = (f.entity_type, seg.loc, seg.is_key, start, end)
            if key not in found or found[key].score < f.score:
                found[key] = mapped
        ordered = sorted(found.values(), key=lambda x: (x.positions, not x.is_key, x.start))
        return ScanResult(tuple(ordered))


def _resolve(findings: list[RawFinding]) -> list[RawFinding]:
    """Per text, drop findings beaten by an overlapping, higher-scoring one (a sweep by offset)."""
    groups: dict[tuple[object, bool], list[RawFinding]] = {}
    for f in findings:
        groups.setdefault((f.loc, f.is_key), []).append(f)
    kept: list[RawFinding] = []
    for group in groups.values():
        group.sort(key=lambda x: (x.start, -x.end, -x.score))
        active: list[RawFinding] = []
        dropped: set[int] = set()
        for f in group:
            active = [g for g in active if g.end > f.start]
            for g in active:
                if g.entity_type != f.entity_type:
                    if g.score > f.score:
                        dropped.add(id(f))
                    elif f.score > g.score:
                        dropped.add(id(g))
                elif f.end <= g.end and g.score >= f.score:
                    dropped.add(id(f))
            active.append(f)
        kept.extend(f for f in group if id(f) not in dropped)
    kept.sort(key=lambda x: (x.positions, not x.is_key, x.start))
    return kept
