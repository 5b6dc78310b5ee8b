"""The witness file: the newest signed checkpoint a gateway saw, kept outside Redis.

Whoever can write the audit streams could delete them wholesale, or cut the log
and its newest checkpoints; the log alone would then still look consistent. The
gateway writes each newer checkpoint it signs or sees to this file (in its state
directory, next to its signing key by default), refuses to sign over a log that no
longer reaches it, and `mas audit verify` checks the log against it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from .checkpoint import SignedCheckpoint
from .errors import AuditFormatError

__all__ = ["WitnessFile"]

log = logging.getLogger(__name__)


class WitnessFile:
    """A checkpoint file that only ever moves forward."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seq = -1

    def for_shard(self, shard: int) -> WitnessFile:
        """The witness of one shard's log: this file for shard 0, ``NAME.shard-N`` otherwise."""
        if shard == 0:
            return self
        return WitnessFile(self.path.with_name(f"{self.path.name}.shard-{shard}"))

    def load(self) -> SignedCheckpoint | None:
        """The witnessed checkpoint, or None when there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditFormatError(f"cannot read the audit witness {self.path}: {exc}") from exc
        try:
            signed = SignedCheckpoint.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditFormatError(f"the audit witness {self.path} is malformed: {exc}") from exc
        self._seq = max(self._seq, signed.checkpoint.seq)
        return signed

    def save(self, signed: SignedCheckpoint) -> None:
        """Keep `signed` if it is newer than what the file holds (atomic replace)."""
        if signed.checkpoint.seq <= self._seq:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(signed.to_json(), handle, indent=2)
                handle.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._seq = signed.checkpoint.seq
