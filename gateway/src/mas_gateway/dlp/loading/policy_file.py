"""Loading ``policies/dlp.yaml`` into a `DLPPolicy`, with file:line errors for every mistake."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...policy.yaml_lines import YamlPath, YamlSource, load_yaml_source
from .policy import (
    ACTIONS,
    OPERATORS,
    ContextSettings,
    DLPPolicy,
    EngineSettings,
    EntityPolicy,
    Operator,
    Override,
    Route,
    Rule,
)
from .source import DiskSource, RuleFile, RuleSource, digest_of

__all__ = ["load_policy"]


_TOP_KEYS = {"version", "engine", "performance", "defaults", "groups", "entities", "routes"}
_ENGINE_KEYS = {"language", "spacy_model", "recognizers", "context", "decode", "limits"}
_RULE_KEYS = {"action", "threshold", "operator"}
_ENTITY_KEYS = _RULE_KEYS | {"context", "allow_list", "deny_list"}


class _Reader:
    """Typed access to the YAML document with file:line errors."""

    def __init__(self, source: YamlSource) -> None:
        self.src = source

    def mapping(
        self, value: Any, path: YamlPath, allowed: set[str] | None = None
    ) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.src.error(path, f"{_name(path)} must be a mapping")
        for key in value:
            if allowed is not None and key not in allowed:
                raise self.src.error(
                    (*path, key),
                    f"unknown key {key!r} in {_name(path)} (expected one of {sorted(allowed)})",
                )
        return value

    def number(self, value: Any, path: YamlPath, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.src.error(path, f"{_name(path)} must be a number")
        if not low <= value <= high:
            raise self.src.error(path, f"{_name(path)} must be between {low} and {high}")
        return float(value)

    def integer(self, value: Any, path: YamlPath, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.src.error(path, f"{_name(path)} must be an integer")
        if not low <= value <= high:
            raise self.src.error(path, f"{_name(path)} must be between {low} and {high}")
        return value

    def strings(self, value: Any, path: YamlPath) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.src.error(path, f"{_name(path)} must be a list of non-empty strings")
        return tuple(value)

    def action(self, value: Any, path: YamlPath) -> str:
        if value not in ACTIONS:
            raise self.src.error(path, f"action must be one of {list(ACTIONS)}, not {value!r}")
        return value

    def operator(self, value: Any, path: YamlPath) -> Operator:
        if isinstance(value, str):
            value = {"type": value}
        spec = self.mapping(value, path)
        kind = spec.get("type")
        if kind not in OPERATORS:
            raise self.src.error(path, f"operator type must be one of {list(OPERATORS)}")
        params = {k: v for k, v in spec.items() if k != "type"}
        allowed = {
            "replace": {"new_value"},
            "mask": {"masking_char", "chars_to_mask", "from_end"},
            "hash": {"hash_type"},
            "redact": set(),
        }[kind]
        for key in params:
            if key not in allowed:
                raise self.src.error((*path, key), f"{kind} operator takes no {key!r}")
        if kind == "mask":
            char = params.get("masking_char", "*")
            if not isinstance(char, str) or len(char) != 1:
                raise self.src.error((*path, "masking_char"), "masking_char must be one character")
            self.integer(params.get("chars_to_mask", 100), (*path, "chars_to_mask"), 1, 10_000)
        if kind == "hash" and params.get("hash_type", "sha256") not in ("sha256", "sha512"):
            raise self.src.error((*path, "hash_type"), "hash_type must be sha256 or sha512")
        return Operator(kind, params)

    def override(self, value: Any, path: YamlPath) -> Override:
        if isinstance(value, str):
            return Override(action=self.action(value, path))
        spec = self.mapping(value, path, _RULE_KEYS)
        return Override(
            action=self.action(spec["action"], (*path, "action")) if "action" in spec else None,
            threshold=(
                self.number(spec["threshold"], (*path, "threshold"), 0.0, 1.0)
                if "threshold" in spec
                else None
            ),
            operator=(
                self.operator(spec["operator"], (*path, "operator")) if "operator" in spec else None
            ),
        )


def _name(path: YamlPath) -> str:
    return ".".join(str(p) for p in path) if path else "the document"


def _workers(value: Any, reader: _Reader, path: YamlPath) -> int:
    if value in (None, "auto"):
        return max(1, os.cpu_count() or 1)
    return reader.integer(value, path, 0, 64)


def _engine(
    raw: dict[str, Any], perf: dict[str, Any], r: _Reader, source: RuleSource
) -> EngineSettings:
    ctx = r.mapping(
        raw.get("context"),
        ("engine", "context"),
        {"words_before", "words_after", "boost", "min_score_with_context"},
    )
    decode = r.mapping(raw.get("decode"), ("engine", "decode"), {"min_length", "depth"})
    limits = r.mapping(
        raw.get("limits"), ("engine", "limits"), {"max_depth", "max_segments", "max_chars"}
    )
    files: list[RuleFile] = []
    for i, entry in enumerate(r.strings(raw.get("recognizers", ["recognizers"]), ("engine",))):
        found = source.recognizers(entry)
        if found is None:
            raise r.src.error(
                ("engine", "recognizers", i),
                f"no recognizer file or folder {entry} (inside the policies directory)",
            )
        files.extend(found)
    model = raw.get("spacy_model", EngineSettings.spacy_model)
    if not isinstance(model, str) or not model:
        raise r.src.error(("engine", "spacy_model"), "spacy_model must be a pipeline name")
    pc = ("performance",)
    return EngineSettings(
        language=str(raw.get("language", "en")),
        spacy_model=model,
        recognizer_files=tuple(files),
        context=ContextSettings(
            words_before=r.integer(ctx.get("words_before", 6), ("engine", "context"), 0, 50),
            words_after=r.integer(ctx.get("words_after", 4), ("engine", "context"), 0, 50),
            boost=r.number(ctx.get("boost", 0.35), ("engine", "context", "boost"), 0, 1),
            min_score_with_context=r.number(
                ctx.get("min_score_with_context", 0.55), ("engine", "context"), 0, 1
            ),
        ),
        decode_min_length=r.integer(decode.get("min_length", 16), ("engine", "decode"), 4, 10_000),
        decode_depth=r.integer(decode.get("depth", 2), ("engine", "decode", "depth"), 0, 5),
        max_depth=r.integer(limits.get("max_depth", 64), ("engine", "limits"), 1, 1000),
        max_segments=r.integer(
            limits.get("max_segments", 20_000), ("engine", "limits"), 1, 10_000_000
        ),
        max_chars=r.integer(limits.get("max_chars", 500_000), ("engine", "limits"), 1, 10**9),
        workers=_workers(perf.get("workers", "auto"), r, (*pc, "workers")),
        cache_size=r.integer(perf.get("cache_size", 4096), (*pc, "cache_size"), 0, 10_000_000),
        batch_size=r.integer(perf.get("batch_size", 64), (*pc, "batch_size"), 1, 100_000),
    )


def load_policy(file: str | Path) -> DLPPolicy:
    """Parse and validate a DLP policy file on disk.

    Raises:
        ConfigError: unreadable file, invalid YAML, or any invalid value (with file and line).
    """
    return load_rules(DiskSource(Path(file)))


def load_rules(source: RuleSource) -> DLPPolicy:
    """Parse and validate DLP rules from `source` (files on disk, or a policy version's bytes).

    Raises:
        ConfigError: invalid YAML, or any invalid value (with file and line).
    """
    text = source.policy_text()
    src = load_yaml_source(source.policy_path, text)
    r = _Reader(src)
    doc = r.mapping(src.data, (), _TOP_KEYS)
    if doc.get("version", 1) != 1:
        raise src.error(("version",), "only version 1 of the DLP policy format is supported")
    perf = r.mapping(
        doc.get("performance"), ("performance",), {"workers", "cache_size", "batch_size"}
    )
    engine = _engine(r.mapping(doc.get("engine"), ("engine",), _ENGINE_KEYS), perf, r, source)

    raw_defaults = r.mapping(doc.get("defaults"), ("defaults",), _RULE_KEYS)
    defaults = Rule(
        r.action(raw_defaults.get("action", "block"), ("defaults", "action")),
        r.number(raw_defaults.get("threshold", 0.5), ("defaults", "threshold"), 0, 1),
        r.operator(raw_defaults.get("operator", "replace"), ("defaults", "operator")),
    )

    entities: dict[str, EntityPolicy] = {}
    raw_entities = r.mapping(doc.get("entities"), ("entities",))
    if not raw_entities:
        raise src.error(("entities",), "the policy lists no entities to look for")
    for name, spec in raw_entities.items():
        p: YamlPath = ("entities", name)
        if not isinstance(name, str) or not name.replace("_", "").isalnum() or not name.isupper():
            raise src.error(p, f"entity name {name!r} must be UPPER_SNAKE_CASE")
        spec = r.mapping(spec if spec is not None else {}, p, _ENTITY_KEYS)
        rule = Override(
            action=r.action(spec["action"], (*p, "action")) if "action" in spec else None,
            threshold=r.number(spec["threshold"], (*p, "threshold"), 0, 1)
            if "threshold" in spec
            else None,
            operator=r.operator(spec["operator"], (*p, "operator")) if "operator" in spec else None,
        ).apply(defaults)
        entities[name] = EntityPolicy(
            name,
            rule,
            context=r.strings(spec.get("context"), (*p, "context")),
            allow_list=r.strings(spec.get("allow_list"), (*p, "allow_list")),
            deny_list=r.strings(spec.get("deny_list"), (*p, "deny_list")),
        )

    groups: dict[str, tuple[str, ...]] = {}
    for name, members in r.mapping(doc.get("groups"), ("groups",)).items():
        names = r.strings(members, ("groups", name))
        for i, member in enumerate(names):
            if member not in entities:
                raise src.error(("groups", name, i), f"group {name} names unknown entity {member}")
        if name in entities:
            raise src.error(("groups", name), f"group {name} has the name of an entity")
        groups[name] = names

    routes = _routes(doc.get("routes"), r, entities, groups)
    digest = digest_of(text, list(engine.recognizer_files))
    return DLPPolicy(
        source.policy_path, engine, defaults, entities, groups, routes, digest=digest, text=text
    )


def _routes(
    raw: Any,
    r: _Reader,
    entities: Mapping[str, EntityPolicy],
    groups: Mapping[str, tuple[str, ...]],
) -> tuple[Route, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise r.src.error(("routes",), "routes must be a list")
    routes: list[Route] = []
    for i, spec in enumerate(raw):
        p: YamlPath = ("routes", i)
        spec = r.mapping(spec, p, {"name", "from", "to", "default", "actions"})
        senders = r.strings(spec.get("from"), (*p, "from"))
        targets = r.strings(spec.get("to"), (*p, "to"))
        if not senders or not targets:
            raise r.src.error(p, "a route needs 'from' (sender roles) and 'to' (target groups)")
        overrides: dict[str, Override] = {}
        direct: set[str] = set()
        for name, value in r.mapping(spec.get("actions"), (*p, "actions")).items():
            q = (*p, "actions", name)
            override = r.override(value, q)
            if name in entities:
                overrides[name] = override
                direct.add(name)
            elif name in groups:
                for member in groups[name]:
                    if member not in direct:
                        overrides[member] = override
            else:
                raise r.src.error(q, f"{name} is neither an entity nor a group of this policy")
        default = r.override(spec["default"], (*p, "default")) if "default" in spec else None
        routes.append(
            Route(
                str(spec.get("name", f"route {i + 1}")),
                frozenset(senders),
                frozenset(targets),
                default,
                overrides,
            )
        )
    return tuple(routes)
