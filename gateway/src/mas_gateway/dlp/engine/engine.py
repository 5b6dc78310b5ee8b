"""DLPEngine: scan payloads and decide what the policy does with them, synchronously.

    engine = DLPEngine.from_policies("policies")
    result = engine.evaluate(payload, sender_roles=("patient",), target_groups=("clinician",))
    result.action            # "allow" | "alert" | "redact" | "block"
    result.findings          # (Finding(entity_type, path, start, end, score, action), ...)
    result.redacted_payload  # the payload to deliver when action == "redact"

Usable offline (``mas dlp scan``, ``mas policy test``) and by the gateway stage.
Scans are cached by payload (an LRU of the policy's ``performance.cache_size``),
so repeated messages cost one dictionary lookup.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..loading.policy import DLPPolicy
from ..loading.policy_file import load_policy
from ..recognizers.lexicon import lexicon
from .analyzer import build_analyzer
from .policy_actions import decide
from .prescreen import Prescreen
from .results import DLPResult, ScanResult
from .scanner import Scanner

__all__ = ["DLPEngine", "ScanCache"]

_MAX_CACHED_CHARS = 65_536
_WARM_UP_TEXT = "Dr. Ann Lee, ssn 123-45-6789, ann@example.com"


class ScanCache:
    """LRU of scan results keyed by a digest of the payload's JSON text."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, ScanResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(payload: Any) -> bytes | None:
        """Digest of the payload (key order matters: paths use positions); None: uncacheable."""
        try:
            text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
        if len(text) > _MAX_CACHED_CHARS:
            return None
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, key: bytes | None) -> ScanResult | None:
        """The cached scan for `key`, refreshed as most recent."""
        if key is None or self.size == 0:
            return None
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: bytes | None, scan: ScanResult) -> None:
        """Remember a scan, evicting the least recently used beyond the size."""
        if key is None or self.size == 0 or scan.error is not None:
            return
        self._items[key] = scan
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class DLPEngine:
    """Presidio analysis plus the policy's decisions, for one DLP policy."""

    def __init__(self, policy: DLPPolicy) -> None:
        self.policy = policy
        self._bundle = build_analyzer(policy)
        self._scanner = Scanner(policy, self._bundle)
        self.cache = ScanCache(policy.engine.cache_size)

    @classmethod
    def from_file(cls, file: str | Path) -> DLPEngine:
        """Engine for a DLP policy file.

        Raises:
            ConfigError: the policy or a recognizer file is invalid (file and line named).
        """
        return cls(load_policy(file))

    @classmethod
    def from_policies(cls, policies_dir: str | Path) -> DLPEngine:
        """Engine for ``<policies_dir>/dlp.yaml``."""
        return cls.from_file(Path(policies_dir) / "dlp.yaml")

    @property
    def ner_entities(self) -> frozenset[str]:
        """Entity types in scope that need spaCy's named-entity recognizer."""
        return self._bundle.ner_entities

    @property
    def prescreen(self) -> Prescreen | None:
        """The pre-screen that clears texts without analysis (None: every text is analysed)."""
        return self._bundle.prescreen

    def warm_up(self) -> None:
        """Load the spaCy pipeline and run every recognizer once."""
        self._bundle.nlp.load()
        self.warm_up_triage()
        self._scanner.scan_batch([{"text": _WARM_UP_TEXT}])

    def warm_up_triage(self) -> None:
        """Load what the pre-screen needs (the name lexicon) without the spaCy pipeline."""
        if self._bundle.ner_entities:
            lexicon()
        self._scanner.triage([{"text": _WARM_UP_TEXT}])

    def triage(self, payloads: Sequence[Any]) -> list[ScanResult | None]:
        """Scans settled by the pre-screen alone (None: the payload needs full analysis)."""
        return self._scanner.triage(payloads)

    def scan(self, payload: Any) -> ScanResult:
        """Everything found in `payload`, before route rules."""
        return self.scan_batch([payload])[0]

    def scan_batch(self, payloads: Sequence[Any]) -> list[ScanResult]:
        """Scan many payloads at once (cached ones are not scanned again)."""
        keys = [ScanCache.key(p) for p in payloads]
        results: list[ScanResult | None] = [self.cache.get(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            scanned = self._scanner.scan_batch([payloads[i] for i in missing])
            for i, scan in zip(missing, scanned, strict=True):
                results[i] = scan
                self.cache.put(keys[i], scan)
        return [r if r is not None else ScanResult() for r in results]

    def scan_uncached(self, payloads: Sequence[Any]) -> list[ScanResult]:
        """Scan payloads the caller already missed in the cache (it stores the results)."""
        return self._scanner.scan_batch(payloads)

    def decide(
        self,
        scan: ScanResult,
        payload: Any,
        sender_roles: Iterable[str] = (),
        target_groups: Iterable[str] = (),
    ) -> DLPResult:
        """Apply the policy to an existing scan of `payload`."""
        return decide(self.policy, scan, payload, sender_roles, target_groups)

    def evaluate(
        self, payload: Any, sender_roles: Iterable[str] = (), target_groups: Iterable[str] = ()
    ) -> DLPResult:
        """Scan `payload` and decide its fate on the route sender roles → target groups."""
        return self.decide(self.scan(payload), payload, sender_roles, target_groups)

    def evaluate_batch(
        self, items: Sequence[tuple[Any, Iterable[str], Iterable[str]]]
    ) -> list[DLPResult]:
        """`evaluate` for (payload, sender roles, target groups) triples, scanned together."""
        scans = self.scan_batch([payload for payload, _r, _g in items])
        return [
            self.decide(scan, payload, roles, groups)
            for scan, (payload, roles, groups) in zip(scans, items, strict=True)
        ]
