"""The pre-screen: Hyperscan answers which patterns may match, Python's engine confirms.

The fast path must give exactly the answer of testing every pattern with Python
(`candidates_exact`), on the labelled corpora and on mutations of them.
"""

from __future__ import annotations

import json
import pickle
import random
import re
from pathlib import Path

import hyperscan
import pytest
import regex

from mas_gateway.dlp import DLPEngine
from mas_gateway.dlp.engine import pattern_set
from mas_gateway.dlp.engine.pattern_set import PatternSet, UntranslatablePattern, translate

DATA = Path(__file__).parent / "data"
_ALPHABET = "abcXYZ0123456789 -_.:=@/+\n\t\x0b\x1c'\"$#,;()[]{}"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _corpus() -> list[str]:
    texts: list[str] = []
    for name in ("probe.jsonl", "everyday.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(_strings(json.loads(line)))
    return texts


def _mutated(texts: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    plain = [t for t in texts if t.isascii()]
    out: list[str] = []
    for _ in range(count):
        chars = list(rng.choice(plain))
        for _ in range(rng.randint(1, 4)):
            where = rng.randint(0, len(chars))
            if chars and rng.random() < 0.5:
                chars[min(where, len(chars) - 1)] = rng.choice(_ALPHABET)
            else:
                chars.insert(where, rng.choice(_ALPHABET))
        out.append("".join(chars))
    return out


def test_fast_screen_answers_like_every_python_pattern(engine: DLPEngine) -> None:
    screen = engine.prescreen
    assert screen is not None
    texts = _corpus()
    texts += _mutated(texts, 3000, seed=11)
    flagged = 0
    for text in texts:
        expected = screen.candidates_exact(text)
        assert screen.candidates(text) == expected, text
        flagged += bool(expected)
    assert 0 < flagged < len(texts)


def test_every_shipped_pattern_is_in_the_hyperscan_database(engine: DLPEngine) -> None:
    screen = engine.prescreen
    assert screen is not None
    slow = [type(screen.rules[i].matcher).__name__ for i in screen.patterns.always]
    assert slow == ["PersonTrigger"]
    assert not screen.gates.always


def test_clean_ascii_text_hits_no_pattern(engine: DLPEngine) -> None:
    screen = engine.prescreen
    assert screen is not None
    assert screen.patterns.may_match(b"x" * 4096) == set(screen.patterns.always)
    assert screen.candidates("x" * 4096) == frozenset()


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [
        (r"(?<=\bbearer[ ])[A-Za-z0-9]{8,}", 0, "auth: bearer abcdefgh12"),
        (r"(?<=\bbearer[ ])[A-Za-z0-9]{8,}", re.IGNORECASE, "auth: BEARER abcdefgh12"),
        (r"a{,3}b", 0, "xaab"),  # Python reads {,3} as {0,3}; PCRE would read a literal
        (r"1\s2", 0, "1\x1c2"),  # Python's \s includes the ASCII separators
        ("\u212a9", re.IGNORECASE, "k9"),  # KELVIN SIGN folds to k
        (r"(\d)-\1", 0, "7-7"),
        (r"(?P<x>ab)?(?(x)c|d)", 0, "abc"),
        (r"(?>ab|a)c", 0, "abc"),
        (r"\d++x", 0, "12x"),
        (r"\d{3}(?=@)", 0, "123@"),
        (r"\d+$", 0, "123\n"),
        (r"(?m)^\d+$", 0, "ab\n123\nc"),
        (r"(?i:abc)d", 0, "ABCd"),
        (r"(?s:a.b)", 0, "a\nb"),
    ],
)
def test_a_python_match_is_always_a_hyperscan_hit(pattern: str, flags: int, text: str) -> None:
    compiled = re.compile(pattern, flags)
    assert compiled.search(text) is not None
    assert PatternSet([compiled]).may_match(text.encode()) == {0}


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(?<=\bbearer )[A-Za-z0-9]{8,}", "plain words abcdefgh12"),
        (r"(?-i:abc)", "ABC"),
        (r"a.b", "a\nb"),
        ("\u00e9", "e"),
    ],
)
def test_hyperscan_keeps_what_separates_the_pattern(pattern: str, text: str) -> None:
    compiled = re.compile(pattern, re.IGNORECASE if "-i" in pattern else 0)
    assert compiled.search(text) is None
    assert PatternSet([compiled]).may_match(text.encode()) == set()


def test_a_variable_lookbehind_becomes_a_required_prefix() -> None:
    token = regex.compile(r"(?<=\b(?:bearer|token)\s+)[A-Za-z0-9]{8,}", regex.IGNORECASE | regex.V0)
    patterns = PatternSet([token])
    assert patterns.may_match(b"Authorization: Bearer   abcdefgh12") == {0}
    assert patterns.may_match(b"a long word: abcdefgh12abcdefgh12") == set()


def test_patterns_it_cannot_translate_are_confirmed_on_every_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    only_regex = regex.compile(r"\p{Lu}\p{Ll}+")
    with pytest.raises(UntranslatablePattern):
        translate(only_regex.pattern, only_regex.flags)
    patterns = PatternSet([only_regex, re.compile("abc")])
    assert patterns.always == frozenset({0})
    assert "pattern 0 is tested on every text" in caplog.text
    assert patterns.may_match(b"nothing here") == {0}
    assert patterns.may_match(b"xabcx") == {0, 1}


def test_non_ascii_text_takes_the_exact_path(engine: DLPEngine) -> None:
    screen = engine.prescreen
    assert screen is not None
    text = "SSN \uff11\uff12\uff13-45-6789 caf\u00e9"
    assert screen.candidates(text) == screen.candidates_exact(text)


def test_a_worker_adopts_the_parents_compiled_database(monkeypatch: pytest.MonkeyPatch) -> None:
    patterns = [re.compile(r"\bssn\b"), re.compile(r"\d{3}-\d{2}-\d{4}")]
    PatternSet(patterns)
    exported = pickle.loads(pickle.dumps(pattern_set.compiled_databases()))
    monkeypatch.setattr(pattern_set, "_COMPILED", {})

    def no_compiler(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(hyperscan, "Database", no_compiler)
    pattern_set.preload(exported)
    assert PatternSet(patterns).may_match(b"ssn 123-45-6789") == {0, 1}
    assert PatternSet(patterns).may_match(b"nothing") == set()
