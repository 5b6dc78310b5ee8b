"""Throughput of the DLP stage next to plain per-message Presidio, on the same messages.

Two scenarios, each on freshly generated, distinct messages (see `traffic`):

- ``ner``: the policy as written (PERSON in scope, so spaCy's NER runs), mixed traffic;
- ``patterns``: the same policy without the entities that need NER, clean traffic.

The stage runs as the gateway runs it: batches of ``batch_size`` contexts, one
``prepare`` per batch, then ``check`` per message, with its worker processes
(started before timing) and an empty scan cache. The baseline is Presidio as
shipped: ``AnalyzerEngine`` with its default recognizers and the policy's spaCy
pipeline, one ``analyze()`` per message over the message's texts joined by
newlines, restricted to the policy's entity types that Presidio supports (its
e-mail recognizer swapped for the offline one, so that nothing is fetched).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine

from ..dlp.engine.engine import DLPEngine
from ..dlp.engine.payload import walk
from ..dlp.engine.scanning import RuleScanner
from ..dlp.recognizers.policy_files import OfflineEmailRecognizer
from .dlp_traffic import clean_messages, mixed_messages

__all__ = ["BenchFigures", "bench_dlp", "pattern_only_policy", "plain_presidio"]


@dataclass(frozen=True)
class BenchFigures:
    """One scenario's result."""

    scenario: str
    policy: str
    messages: int
    workers: int
    batch_size: int
    stage_seconds: float
    baseline_seconds: float
    stage_flagged: int
    baseline_flagged: int

    @property
    def stage_rate(self) -> float:
        """Messages per second through the stage."""
        return self.messages / self.stage_seconds

    @property
    def baseline_rate(self) -> float:
        """Messages per second through plain Presidio."""
        return self.messages / self.baseline_seconds

    @property
    def speedup(self) -> float:
        """Stage rate over baseline rate."""
        return self.stage_rate / self.baseline_rate

    def to_json(self) -> dict[str, Any]:
        """Figures plus the derived rates."""
        return {
            **asdict(self),
            "stage_msgs_per_s": round(self.stage_rate, 1),
            "baseline_msgs_per_s": round(self.baseline_rate, 1),
            "speedup": round(self.speedup, 2),
        }


def pattern_only_policy(engine: DLPEngine, folder: Path) -> Path:
    """Write a copy of the engine's policy without NER entities into `folder`; return its path."""
    doc: dict[str, Any] = yaml.safe_load(engine.policy.text)
    drop = engine.ner_entities
    doc["entities"] = {k: v for k, v in doc["entities"].items() if k not in drop}
    doc.setdefault("engine", {})["recognizers"] = [
        str(f.path) for f in engine.policy.engine.recognizer_files
    ]
    groups = {
        name: [e for e in members if e not in drop]
        for name, members in (doc.get("groups") or {}).items()
    }
    doc["groups"] = {name: members for name, members in groups.items() if members}
    for route in doc.get("routes") or []:
        actions = route.get("actions") or {}
        route["actions"] = {
            k: v
            for k, v in actions.items()
            if k not in drop and (k in doc["entities"] or k in doc["groups"])
        }
    target = folder / "dlp.yaml"
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


async def _run_stage(
    scanner: RuleScanner, payloads: Sequence[dict[str, Any]], batch_size: int
) -> tuple[float, int]:
    """As the stage runs: one scan per batch, then each message's decision."""
    engine = scanner.engine
    flagged = 0
    started = time.perf_counter()
    for i in range(0, len(payloads), batch_size):
        batch = payloads[i : i + batch_size]
        scans = await scanner.scan(batch)
        for payload, scan in zip(batch, scans, strict=True):
            result = engine.decide(scan, payload, ("agent",), ())
            flagged += result.action != "allow"
    return time.perf_counter() - started, flagged


def plain_presidio(model: str) -> AnalyzerEngine:
    """Presidio as shipped, on spaCy pipeline `model` (its e-mail check kept offline)."""
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    analyzer = AnalyzerEngine(nlp_engine=nlp)
    analyzer.registry.remove_recognizer("EmailRecognizer")
    analyzer.registry.add_recognizer(OfflineEmailRecognizer())
    return analyzer


def _run_baseline(
    analyzer: AnalyzerEngine, payloads: Sequence[dict[str, Any]], entities: list[str]
) -> tuple[float, int]:
    texts = ["\n".join(s.text for s in walk(p)) for p in payloads]
    flagged = 0
    started = time.perf_counter()
    for text in texts:
        flagged += bool(analyzer.analyze(text=text, language="en", entities=entities))
    return time.perf_counter() - started, flagged


async def _scenario(
    name: str,
    engine: DLPEngine,
    label: str,
    payloads: list[dict[str, Any]],
    baseline: AnalyzerEngine,
    workers: int,
    batch_size: int,
) -> BenchFigures:
    scanner = RuleScanner(engine, workers=workers)
    try:
        await scanner.start()
        engine.cache = type(engine.cache)(engine.cache.size)
        stage_s, stage_flagged = await _run_stage(scanner, payloads, batch_size)
    finally:
        await scanner.aclose()
    supported = set(baseline.get_supported_entities("en"))
    entities = sorted(engine.policy.scope & supported)
    _run_baseline(baseline, payloads[:5], entities)  # warm-up
    base_s, base_flagged = await asyncio.to_thread(_run_baseline, baseline, payloads, entities)
    return BenchFigures(
        name,
        label,
        len(payloads),
        workers,
        batch_size,
        stage_s,
        base_s,
        stage_flagged,
        base_flagged,
    )


async def bench_dlp(
    policies_dir: Path,
    *,
    scenarios: Sequence[str] = ("ner", "patterns"),
    messages: int = 500,
    workers: int | None = None,
    batch_size: int = 64,
    seed: int = 7,
    payloads: list[dict[str, Any]] | None = None,
) -> list[BenchFigures]:
    """Run the scenarios; each returns stage and baseline timings on the same messages.

    `payloads` replaces the generated traffic of every scenario (e.g. a labelled corpus).
    """
    engine = DLPEngine.from_policies(policies_dir)
    count = engine.policy.engine.workers if workers is None else workers
    baseline = plain_presidio(engine.policy.engine.spacy_model)
    results: list[BenchFigures] = []
    with tempfile.TemporaryDirectory(prefix="mas-bench-dlp-") as tmp:
        for name in scenarios:
            if name == "ner":
                traffic = payloads or mixed_messages(messages, seed=seed)
                label = f"{engine.policy.file.name} (NER in scope)"
                results.append(
                    await _scenario(name, engine, label, traffic, baseline, count, batch_size)
                )
            elif name == "patterns":
                slim = DLPEngine.from_file(pattern_only_policy(engine, Path(tmp)))
                traffic = payloads or clean_messages(messages, seed=seed + 1)
                label = (
                    f"{engine.policy.file.name} without {', '.join(sorted(engine.ner_entities))}"
                )
                results.append(
                    await _scenario(name, slim, label, traffic, baseline, count, batch_size)
                )
            else:
                raise ValueError(f"unknown scenario {name!r} (ner, patterns)")
    return results
