"""Recognizers from policy files (Presidio's YAML recognizer format) and their Python helpers.

A recognizer file holds ``recognizers:``, a list in Presidio's registry format:
``type: custom`` entries are pattern recognizers (``name``, ``supported_entity``,
``supported_language``, ``patterns`` of ``{name, regex, score}``, ``context``,
``deny_list``); ``type: predefined`` entries load a Presidio recognizer class by
``name`` (optionally with ``context`` and constructor ``params``). Three optional
keys extend the format:

- ``validator``: a check in Python (``checksums.VALIDATORS``, ``structure``) that a match
  must pass;
- ``negative_context``: words that, right before a match, mean it is something else;
- ``message_context``: words that support a match from anywhere in the message;
- ``case_sensitive``: match the patterns case-sensitively (default: ignore case).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import regex
import tldextract
from presidio_analyzer import (
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
    predefined_recognizers,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer

from ...policy.yaml_lines import YamlPath, YamlSource, load_yaml_source
from ..loading.source import RuleFile
from .checksums import VALIDATORS as CHECKSUMS
from .person import PersonNameRecognizer
from .structure import STRUCTURE_VALIDATORS

__all__ = [
    "CandidatePhoneRecognizer",
    "OfflineEmailRecognizer",
    "PolicyPatternRecognizer",
    "load_recognizer_files",
    "message_context",
    "negative_context",
]

_FLAGS_IGNORECASE = re.DOTALL | re.MULTILINE | re.IGNORECASE
_FLAGS_CASE = re.DOTALL | re.MULTILINE

VALIDATORS = {**CHECKSUMS, **STRUCTURE_VALIDATORS}

# The public suffix list snapshot shipped inside tldextract: never fetched over the network.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


# Domains reserved for documentation (RFC 2606) and the generic mailboxes used with them:
# "user@example.com" is a template, "dana.lee@clinic.example.org" may still be a person.
_RESERVED_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$"
)
_PLACEHOLDER_LOCAL = frozenset(
    re.split(
        r"\s+",
        "user username name you yourname your.name your_name someone somebody email mail test "
        "foo bar me firstname.lastname first.last firstname john.doe jane.doe jdoe",
    )
)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating domains against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        """True when the address ends in a known public suffix and is not a documentation one."""
        local, _, domain = pattern_text.lower().rpartition("@")
        if local in _PLACEHOLDER_LOCAL and _RESERVED_DOMAIN.search(domain):
            return False
        return _OFFLINE_TLD(pattern_text).fqdn != ""


# A run of at least seven digits with the separators phone numbers use.
_PHONE_CANDIDATE = regex.compile(r"[+(]?\d(?:[ \t().\-/]{0,3}\d){6,16}")


class CandidatePhoneRecognizer(PhoneRecognizer):
    """Presidio's libphonenumber recognizer, run only on digit runs that could be numbers.

    libphonenumber's matcher walks the whole text once per region; running it on
    the few candidate runs gives the same matches at a fraction of the cost. When its
    score is below the lowest threshold in use (`floor`), a match only counts with a
    context word, so texts without one are not matched at all.
    """

    floor: float = 0.0

    def _context_words(self) -> re.Pattern[str]:
        cached = getattr(self, "_context_re", None)
        if cached is None:
            words = "|".join(re.escape(w.lower()) for w in self.context or [])
            cached = re.compile(rf"(?:{words})" if words else r"(?!)")
            self._context_re = cached
        return cached

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Phone numbers found inside candidate digit runs (offsets into `text`)."""
        if self.floor > self.SCORE and not self._context_words().search(text.lower()):
            return []
        results: list[RecognizerResult] = []
        for m in _PHONE_CANDIDATE.finditer(text):
            start = max(0, m.start() - 1)
            end = min(len(text), m.end() + 1)
            part = super().analyze(text[start:end], entities, nlp_artifacts)  # type: ignore[arg-type]
            for found in part:
                found.start += start
                found.end += start
                results.append(found)
        return EntityRecognizer.remove_duplicates(results)


class PolicyPatternRecognizer(PatternRecognizer):
    """A pattern recognizer whose matches must pass a named Python validator."""

    def __init__(
        self,
        *,
        validator: Callable[[str], bool] | None = None,
        negative: Sequence[str] = (),
        message: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._validator = validator
        self.negative_context = tuple(negative)
        self.message_context = tuple(message)

    def validate_result(self, pattern_text: str) -> bool | None:
        """None (keep the pattern's score) when valid, False (drop) when not."""
        if self._validator is None:
            return None
        return None if self._validator(pattern_text) else False


_CUSTOM_KEYS = {
    "name",
    "type",
    "supported_language",
    "supported_entity",
    "patterns",
    "context",
    "deny_list",
    "deny_list_score",
    "validator",
    "negative_context",
    "message_context",
    "case_sensitive",
    "enabled",
}
_PREDEFINED_KEYS = {
    "name",
    "type",
    "supported_language",
    "context",
    "negative_context",
    "params",
    "enabled",
}

# Recognizers written in Python for this gateway, selectable like Presidio's own.
_OWN_CLASSES: dict[str, type[EntityRecognizer]] = {
    "EmailRecognizer": OfflineEmailRecognizer,
    "PhoneRecognizer": CandidatePhoneRecognizer,
    "PersonNameRecognizer": PersonNameRecognizer,
}


def negative_context(recognizer: EntityRecognizer) -> tuple[str, ...]:
    """Words that, right before a match of this recognizer, cancel it."""
    value = getattr(recognizer, "negative_context", ())
    return tuple(value) if isinstance(value, tuple | list) else ()


def message_context(recognizer: EntityRecognizer) -> tuple[str, ...]:
    """Words that support a match of this recognizer from anywhere in the message."""
    value = getattr(recognizer, "message_context", ())
    return tuple(value) if isinstance(value, tuple | list) else ()


def _strings(src: YamlSource, value: Any, path: YamlPath) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise src.error(path, "must be a list of non-empty strings")
    return list(value)


def _custom(
    src: YamlSource, spec: dict[str, Any], path: YamlPath, language: str
) -> PatternRecognizer:
    entity = spec.get("supported_entity")
    if not isinstance(entity, str) or not entity:
        raise src.error(path, "a custom recognizer needs supported_entity")
    patterns: list[Pattern] = []
    raw_patterns = spec.get("patterns") or []
    if not isinstance(raw_patterns, list):
        raise src.error((*path, "patterns"), "patterns must be a list")
    case_sensitive = bool(spec.get("case_sensitive", False))
    flags = _FLAGS_CASE if case_sensitive else _FLAGS_IGNORECASE
    for i, raw in enumerate(raw_patterns):
        p = (*path, "patterns", i)
        if not isinstance(raw, dict) or set(raw) - {"name", "regex", "score"}:
            raise src.error(p, "a pattern is a mapping of name, regex and score")
        expression, score = raw.get("regex"), raw.get("score")
        if not isinstance(expression, str) or not expression:
            raise src.error((*p, "regex"), "regex must be a non-empty string")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise src.error((*p, "score"), "score must be a number between 0 and 1")
        try:
            regex.compile(expression, flags=flags)
        except regex.error as exc:
            raise src.error((*p, "regex"), f"invalid regex: {exc}") from exc
        patterns.append(Pattern(str(raw.get("name", f"pattern {i + 1}")), expression, float(score)))
    deny = _strings(src, spec.get("deny_list"), (*path, "deny_list"))
    if not patterns and not deny:
        raise src.error(path, "a custom recognizer needs patterns or a deny_list")
    validator_name = spec.get("validator")
    validator = None
    if validator_name is not None:
        validator = VALIDATORS.get(str(validator_name))
        if validator is None:
            raise src.error(
                (*path, "validator"),
                f"unknown validator {validator_name!r} (known: {sorted(VALIDATORS)})",
            )
    return PolicyPatternRecognizer(
        validator=validator,
        negative=_strings(src, spec.get("negative_context"), (*path, "negative_context")),
        message=_strings(src, spec.get("message_context"), (*path, "message_context")),
        supported_entity=entity,
        name=str(spec.get("name", entity)),
        supported_language=str(spec.get("supported_language", language)),
        patterns=patterns,
        deny_list=deny or None,
        context=_strings(src, spec.get("context"), (*path, "context")) or None,
        global_regex_flags=flags,
    )


def _predefined(
    src: YamlSource, spec: dict[str, Any], path: YamlPath, language: str
) -> EntityRecognizer:
    name = spec.get("name")
    cls = _OWN_CLASSES.get(str(name)) or getattr(predefined_recognizers, str(name), None)
    if not isinstance(cls, type) or not issubclass(cls, EntityRecognizer):
        raise src.error((*path, "name"), f"no predefined recognizer named {name!r}")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise src.error((*path, "params"), "params must be a mapping")
    context = _strings(src, spec.get("context"), (*path, "context"))
    kwargs: dict[str, Any] = {"supported_language": spec.get("supported_language", language)}
    if context:
        kwargs["context"] = context
    try:
        recognizer = cls(**kwargs, **params)
    except TypeError as exc:
        raise src.error((*path, "params"), f"bad parameters for {name}: {exc}") from exc
    negative = _strings(src, spec.get("negative_context"), (*path, "negative_context"))
    if negative:
        recognizer.negative_context = tuple(negative)  # type: ignore[attr-defined]
    return recognizer


def load_recognizer_files(files: Sequence[RuleFile], language: str) -> list[EntityRecognizer]:
    """Every enabled recognizer declared in `files`, in order.

    Raises:
        ConfigError: a file that is unreadable or malformed (with file and line).
    """
    out: list[EntityRecognizer] = []
    for file in files:
        src = load_yaml_source(file.path, file.text)
        data = src.data
        if not isinstance(data, dict) or not isinstance(data.get("recognizers"), list):
            raise src.error((), "a recognizer file holds a 'recognizers:' list")
        for i, spec in enumerate(data["recognizers"]):
            path: YamlPath = ("recognizers", i)
            if not isinstance(spec, dict):
                raise src.error(path, "a recognizer is a mapping")
            kind = spec.get("type", "custom")
            allowed = _CUSTOM_KEYS if kind == "custom" else _PREDEFINED_KEYS
            if kind not in ("custom", "predefined"):
                raise src.error((*path, "type"), "type must be custom or predefined")
            for key in spec:
                if key not in allowed:
                    raise src.error((*path, key), f"unknown key {key!r} for a {kind} recognizer")
            if spec.get("enabled", True) is False:
                continue
            if kind == "custom":
                out.append(_custom(src, spec, path, language))
            else:
                out.append(_predefined(src, spec, path, language))
    return out
