"""Hot reload of the DLP rules in step with the policy version in force.

When a new policy version (already validated and tested by the `PolicyStore`)
changes ``dlp.yaml`` or a recognizer file, a new `DLPStage` is built and started
off the hot path, then swapped into the pipeline between two batches; the old
stage's worker processes are stopped afterwards. If the new rules cannot be
loaded, the old stage stays in force and the failure is logged (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

from .dlp import DLPStage
from .pipeline import Pipeline
from .policy import PolicySet

__all__ = ["DLPReloader", "dlp_files"]

log = logging.getLogger(__name__)


def dlp_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files of a policy version that the DLP engine reads."""
    return {
        name: data
        for name, data in files.items()
        if name == "dlp.yaml" or name.startswith("recognizers/")
    }


class DLPReloader:
    """Policy-store listener that replaces the pipeline's DLP stage when its rules change."""

    def __init__(
        self,
        pipeline: Pipeline,
        batch_lock: asyncio.Lock,
        policies_dir: Path,
        current: PolicySet,
        *,
        workers: int | None,
    ) -> None:
        self._pipeline = pipeline
        self._batch_lock = batch_lock
        self._dir = policies_dir
        self._workers = workers
        self._files = dlp_files(current.files)
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()

    def listener(self, policy: PolicySet) -> None:
        """Called by the store with each version put in force (from any thread)."""
        files = dlp_files(policy.files)
        if files == self._files:
            return
        self._files = files
        self._loop.call_soon_threadsafe(self._spawn, policy.version)

    def _spawn(self, version: str) -> None:
        task = self._loop.create_task(self._swap(version), name="dlp-reload")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _swap(self, version: str) -> None:
        try:
            stage = await asyncio.to_thread(
                DLPStage.from_policies, self._dir, workers=self._workers
            )
            await stage.start()
        except Exception:
            log.exception(
                "DLP rules of policy %s could not be loaded; old rules stay", version[:12]
            )
            return
        async with self._batch_lock:
            stages = self._pipeline.stages
            index = next((i for i, s in enumerate(stages) if s.name == "dlp"), None)
            if index is None:
                await stage.aclose()
                return
            old = stages[index]
            stages[index] = stage
        log.warning("DLP rules of policy %s in force", version[:12])
        if isinstance(old, DLPStage):
            await old.aclose()

    async def aclose(self) -> None:
        """Wait for a swap in progress to finish."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
