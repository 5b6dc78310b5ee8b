"""A lean spaCy NLP engine for Presidio: only the named-entity recognizer, batched.

Presidio's default engine runs the whole pipeline (tagger, parser, lemmatizer)
on every text; DLP needs only entities (context words come from the analysis
document, not lemmas). The pipeline is loaded once per process, keeping just
``ner`` and any component it listens to, and texts are processed in batches
with ``nlp.pipe``. Without entities in scope, only the tokenizer runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.language import Language
from spacy.tokens import Doc

from mas.errors import ConfigError

from .document import AnalysisDocument, DocArtifacts

__all__ = ["EntitySpan", "LeanSpacyEngine", "load_pipeline"]

_PIPELINES: dict[str, Language] = {}
_CHUNK = 50_000
"""Longest text given to spaCy at once (its memory grows with the text's length)."""


@dataclass(frozen=True)
class EntitySpan:
    """A named entity: label and character offsets in the analysis document."""

    label_: str
    start_char: int
    end_char: int


def _pieces(text: str, worth: Callable[[str], bool] | None) -> list[tuple[int, str]]:
    """(offset, text) runs of consecutive lines that pass `worth`, each at most `_CHUNK` long."""
    if worth is None:
        return _chunks(text)
    out: list[tuple[int, str]] = []
    start, parts, size = 0, [], 0
    pos = 0
    for line in text.splitlines(keepends=True):
        keep = worth(line)
        if parts and (not keep or size + len(line) > _CHUNK):
            out.append((start, "".join(parts)))
            parts, size = [], 0
        if keep:
            if len(line) > _CHUNK:
                out.extend((pos + off, part) for off, part in _chunks(line))
            else:
                if not parts:
                    start = pos
                parts.append(line)
                size += len(line)
        pos += len(line)
    if parts:
        out.append((start, "".join(parts)))
    return out


def _chunks(text: str) -> list[tuple[int, str]]:
    """(offset, part) pieces of at most `_CHUNK` characters, cut at line or word ends."""
    out: list[tuple[int, str]] = []
    pos = 0
    while pos < len(text) or not out:
        end = min(len(text), pos + _CHUNK)
        if end < len(text):
            cut = text.rfind("\n", pos, end)
            if cut <= pos:
                cut = text.rfind(" ", pos, end)
            end = cut + 1 if cut > pos else end
        out.append((pos, text[pos:end]))
        pos = end
    return out


def load_pipeline(model: str) -> Language:
    """The named spaCy pipeline with only ``ner`` (and what it listens to), loaded once."""
    cached = _PIPELINES.get(model)
    if cached is not None:
        return cached
    if not spacy.util.is_package(model):
        raise ConfigError(f"spaCy pipeline {model!r} is not installed (engine.spacy_model)")
    nlp = spacy.load(model)
    keep = {"ner"}
    for name, component in nlp.pipeline:
        if "ner" in getattr(component, "listening_components", []):
            keep.add(name)
    for name in nlp.pipe_names:
        if name not in keep:
            nlp.disable_pipe(name)
    _PIPELINES[model] = nlp
    return nlp


class LeanSpacyEngine(NlpEngine):
    """Presidio NlpEngine over a NER-only spaCy pipeline."""

    def __init__(self, model: str, language: str = "en") -> None:
        self.model = model
        self.language = language
        self.nlp: Language | None = None

    def load(self) -> None:
        """Load the pipeline (shared by every engine in this process)."""
        self.nlp = load_pipeline(self.model)

    def is_loaded(self) -> bool:
        """Always True: the pipeline loads on first use, not when the analyzer is built."""
        return True

    def _pipeline(self) -> Language:
        if self.nlp is None:
            self.load()
        assert self.nlp is not None
        return self.nlp

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """Artifacts for one text (entities included)."""
        document = AnalysisDocument.build([("", text)])
        return next(self.analyze_documents([document], ner=True))

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        **kwargs: object,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        """Artifacts for several texts, batched through ``nlp.pipe``."""
        documents = [AnalysisDocument.build([("", t)]) for t in texts]
        for document, artifacts in zip(
            documents, self.analyze_documents(documents, ner=True), strict=True
        ):
            yield document.text, artifacts

    def analyze_documents(
        self,
        documents: Sequence[AnalysisDocument],
        *,
        ner: bool,
        batch_size: int = 64,
        worth: Callable[[str], bool] | None = None,
    ) -> Iterator[DocArtifacts]:
        """Artifacts per document; entities only when `ner`, from chunks that pass `worth`."""
        if not ner:
            for document in documents:
                yield DocArtifacts(document, [], None, self, self.language)
            return
        pieces = [
            (i, offset, part)
            for i, d in enumerate(documents)
            for offset, part in _pieces(d.text, worth)
        ]
        found: list[list[EntitySpan]] = [[] for _ in documents]
        docs: Iterator[Doc] = self._pipeline().pipe((p[2] for p in pieces), batch_size=batch_size)
        for (i, offset, _part), doc in zip(pieces, docs, strict=True):
            found[i].extend(
                EntitySpan(str(e.label_), e.start_char + offset, e.end_char + offset)
                for e in doc.ents
            )
        for document, entities in zip(documents, found, strict=True):
            yield DocArtifacts(document, entities, None, self, self.language)

    def is_stopword(self, word: str, language: str) -> bool:
        """spaCy's stop-word list."""
        return bool(self._pipeline().vocab[word].is_stop)

    def is_punct(self, word: str, language: str) -> bool:
        """spaCy's punctuation test."""
        return bool(self._pipeline().vocab[word].is_punct)

    def get_supported_entities(self) -> list[str]:
        """Entity labels of the pipeline's recognizer."""
        nlp = self._pipeline()
        if "ner" not in nlp.pipe_names:
            return []
        return [str(label) for label in getattr(nlp.get_pipe("ner"), "labels", ())]

    def get_supported_languages(self) -> list[str]:
        """The one configured language."""
        return [self.language]
