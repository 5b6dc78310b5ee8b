"""One DLP engine per set of rules, shared by everything in the process that needs it.

The engine of a policy version is built from that version's bytes (`FilesSource`)
and kept by the digest of its DLP files, so the policy tests that validate a new
version, the gateway stage that applies it and any later version with the same
DLP files use one engine, built once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from ..loading.policy_file import load_rules
from ..loading.source import FilesSource
from .engine import DLPEngine

if TYPE_CHECKING:
    from ...policy import PolicySet

__all__ = ["DLP_FILE", "cached_engine", "engine_for", "has_dlp"]

DLP_FILE = "dlp.yaml"
_KEEP = 4
"""Engines kept (each holds its analyzer and scan cache)."""

_lock = threading.Lock()
_by_digest: OrderedDict[str, DLPEngine] = OrderedDict()
_by_version: dict[str, str] = {}


def has_dlp(policy: PolicySet) -> bool:
    """True when the version has DLP rules."""
    return DLP_FILE in policy.files


def cached_engine(policy: PolicySet) -> DLPEngine | None:
    """The engine of `policy` if it is built already (cheap: no parsing, no thread)."""
    with _lock:
        digest = _by_version.get(policy.version)
        return _by_digest.get(digest) if digest is not None else None


def engine_for(policy: PolicySet) -> DLPEngine:
    """The engine of `policy`'s DLP rules (built on first use, then shared).

    Raises:
        ConfigError: ``dlp.yaml`` or a recognizer file is invalid (file and line named).
    """
    with _lock:
        digest = _by_version.get(policy.version)
        if digest is not None and digest in _by_digest:
            _by_digest.move_to_end(digest)
            return _by_digest[digest]
    rules = load_rules(FilesSource(policy.sources.root, policy.files))
    with _lock:
        engine = _by_digest.get(rules.digest)
        if engine is None:
            engine = DLPEngine(rules)
            _by_digest[rules.digest] = engine
            while len(_by_digest) > _KEEP:
                _by_digest.popitem(last=False)
        _by_digest.move_to_end(rules.digest)
        _by_version[policy.version] = rules.digest
        return engine
