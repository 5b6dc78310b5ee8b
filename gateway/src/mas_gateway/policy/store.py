"""PolicyStore: the policy version in force, replaced atomically and only by a version that
validates and passes its own tests. A broken version is refused and the old one stays."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mas.errors import ConfigError

from .errors import Issue, PolicyError
from .loader import build_policy_set
from .policyset import PolicySet
from .ratelimits import RateLimit
from .sources import read_sources
from .testing import DlpCheck, run_policy_tests

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .watch import PolicyWatcher

__all__ = ["DlpFactory", "PolicyStore", "ReloadResult", "load_verified"]

log = logging.getLogger("mas_gateway.policy")

Validator = Callable[[PolicySet], None]
"""Extra check on a candidate version; raise `PolicyError` to refuse it."""
Listener = Callable[[PolicySet], None]
"""Told about every version that came into force."""
DlpFactory = Callable[[PolicySet], DlpCheck | None]
"""Builds the DLP check for a candidate version (e.g. `dlp_check_for`), or None to skip it."""


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of one reload attempt."""

    status: Literal["replaced", "unchanged", "refused"]
    version: str
    """The version in force after the attempt."""
    candidate: str | None = None
    """The version read from disk (None when the files could not be read)."""
    error: str | None = None


def load_verified(
    policies_dir: str | Path,
    *,
    dlp: DlpFactory | None = None,
    validators: Iterable[Validator] = (),
) -> PolicySet:
    """Load, validate and test a policies directory; `PolicyError` on any problem."""
    policy = build_policy_set(read_sources(policies_dir))
    _verify(policy, dlp, validators)
    return policy


def _verify(policy: PolicySet, dlp: DlpFactory | None, validators: Iterable[Validator]) -> None:
    report = run_policy_tests(policy, dlp(policy) if dlp is not None else None)
    if not report.ok:
        issues = [
            Issue(
                policy.sources.display(result.case.file),
                result.case.line,
                f"policy test {result.case.name!r} fails: "
                + "; ".join(str(difference) for difference in result.differences),
            )
            for result in report.failures
        ]
        raise PolicyError(issues)
    for validator in validators:
        validator(policy)


class PolicyStore:
    """Holds the current `PolicySet`; readers take `current` once per message."""

    def __init__(
        self,
        policy: PolicySet,
        *,
        policies_dir: str | Path | None = None,
        dlp: DlpFactory | None = None,
    ) -> None:
        self._current = policy
        self.policies_dir = Path(policies_dir) if policies_dir is not None else policy.sources.root
        self._dlp = dlp
        self._validators: list[Validator] = []
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._watcher: PolicyWatcher | None = None

    @classmethod
    def load(cls, policies_dir: str | Path, *, dlp: DlpFactory | None = None) -> PolicyStore:
        """Load and test the initial version; `PolicyError` (exit 2 in the CLI) when broken.

        With `dlp` (e.g. `dlp_check_for`), the cases' `dlp_action` expectations are checked
        too, on this and every later candidate version.
        """
        policy = load_verified(policies_dir, dlp=dlp)
        log.info("policy version %s in force (%d rules)", policy.version[:12], len(policy.rules))
        return cls(policy, policies_dir=policies_dir, dlp=dlp)

    @property
    def current(self) -> PolicySet:
        """The version in force."""
        return self._current

    @property
    def version(self) -> str:
        """sha256 of the version in force."""
        return self._current.version

    def rate_limit_for(self, roles: Iterable[str]) -> RateLimit:
        """Rate limit for an agent holding `roles`, under the version in force."""
        return self._current.rate_limit_for(roles)

    def add_validator(self, validator: Validator) -> None:
        """Run `validator` on every candidate version before it may replace the current one."""
        self._validators.append(validator)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` with each new version right after it came into force."""
        self._listeners.append(listener)

    # -- reloading ---------------------------------------------------------------
    def _candidate(self) -> tuple[PolicySet | None, str | None, str | None]:
        """(new version or None if unchanged, the hash read, error) — never raises."""
        version: str | None = None
        try:
            sources = read_sources(self.policies_dir)
            version = sources.version
            if version == self._current.version:
                return None, version, None
            policy = build_policy_set(sources)
            _verify(policy, self._dlp, self._validators)
        except PolicyError as exc:
            for issue in exc.issues[:20]:
                log.error("policy problem: %s", issue)
            return None, version, str(exc)
        except ConfigError as exc:
            return None, version, str(exc)
        except Exception as exc:
            log.exception("policy reload failed unexpectedly")
            return None, version, f"unexpected error: {type(exc).__name__}: {exc}"
        return policy, version, None

    def _apply(
        self, policy: PolicySet | None, candidate: str | None, error: str | None
    ) -> ReloadResult:
        old = self._current
        if error is not None:
            log.error(
                "policy reload refused; version %s stays in force: %s", old.version[:12], error
            )
            return ReloadResult("refused", old.version, candidate, error)
        if policy is None:
            return ReloadResult("unchanged", old.version, candidate)
        self._current = policy
        log.warning(
            "policy version %s in force (was %s; %d rules, %d tests passed)",
            policy.version[:12],
            old.version[:12],
            len(policy.rules),
            len(policy.test_cases),
        )
        for listener in self._listeners:
            try:
                listener(policy)
            except Exception:
                log.exception("policy listener %r failed", listener)
        return ReloadResult("replaced", policy.version, candidate)

    def reload(self) -> ReloadResult:
        """Re-read the directory; swap in the new version only if it validates and passes."""
        return self._apply(*self._candidate())

    async def reload_async(self) -> ReloadResult:
        """`reload` with the parsing and tests off the event loop; one reload at a time."""
        async with self._lock:
            return self._apply(*await asyncio.to_thread(self._candidate))

    # -- hot reload --------------------------------------------------------------
    async def start(
        self, redis: aioredis.Redis | None = None, *, poll_interval: float | None = 1.0
    ) -> None:
        """Watch the files every `poll_interval` seconds and/or the Redis reload channel."""
        from .watch import PolicyWatcher

        if self._watcher is not None:
            return
        watcher = PolicyWatcher(self, redis=redis, poll_interval=poll_interval)
        await watcher.start()
        self._watcher = watcher

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The watching loops (empty when not watching)."""
        return list(self._watcher.tasks) if self._watcher is not None else []

    async def stop(self) -> None:
        """Stop watching; the version in force stays."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await watcher.stop()
