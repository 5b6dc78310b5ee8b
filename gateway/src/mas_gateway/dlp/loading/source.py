"""Where the DLP rules come from: files on disk, or the exact bytes of a policy version.

The gateway builds its DLP engine from the bytes of the `PolicySet` in force (the
bytes whose hash is the policy version), never by reading the directory again, so
the rules it applies are the rules that were validated and tested. Tools that
look at one ``dlp.yaml`` (``mas dlp scan``, the tests) read files from disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mas.errors import ConfigError

__all__ = ["DiskSource", "FilesSource", "RuleFile", "RuleSource", "digest_of"]

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RuleFile:
    """One file of the DLP rules: how errors name it, and its text."""

    path: Path
    text: str


class RuleSource(Protocol):
    """Files of the DLP rules: the policy file and the recognizer files it names."""

    @property
    def policy_path(self) -> Path:
        """How errors name the DLP policy file."""
        ...

    def policy_text(self) -> str:
        """The DLP policy file's text."""
        ...

    def recognizers(self, entry: str) -> list[RuleFile] | None:
        """The files an ``engine.recognizers`` entry names (a file or a folder), None if none."""
        ...


@dataclass(frozen=True)
class DiskSource:
    """A DLP policy file on disk; recognizer entries are paths relative to its folder."""

    file: Path

    @property
    def policy_path(self) -> Path:
        """The policy file."""
        return self.file

    def policy_text(self) -> str:
        """Read the policy file."""
        try:
            return self.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{self.file}: cannot read: {exc.strerror}") from exc

    def recognizers(self, entry: str) -> list[RuleFile] | None:
        """Files of a recognizer folder or a single file, read now."""
        target = (self.file.parent / entry).resolve()
        if target.is_dir():
            paths = sorted(p for p in target.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        elif target.is_file():
            paths = [target]
        else:
            return None
        return [RuleFile(p, _read(p)) for p in paths]


@dataclass(frozen=True)
class FilesSource:
    """The DLP rules among a policy version's files (POSIX names relative to `root`)."""

    root: Path
    files: Mapping[str, bytes]
    name: str = "dlp.yaml"

    @property
    def policy_path(self) -> Path:
        """How errors name the policy file."""
        return self.root / self.name

    def policy_text(self) -> str:
        """The policy file's text."""
        return _decode(self.policy_path, self.files[self.name])

    def recognizers(self, entry: str) -> list[RuleFile] | None:
        """Files of the version under `entry` (a file, or a folder's direct children)."""
        name = Path(entry).as_posix().strip("/")
        if name.startswith("../") or name.startswith("/") or name == "..":
            return None  # outside the policies: not part of the version that was hashed
        if name in self.files:
            names = [name]
        else:
            prefix = f"{name}/" if name not in ("", ".") else ""
            names = sorted(
                n
                for n in self.files
                if n.startswith(prefix) and "/" not in n[len(prefix) :] and n.endswith(_SUFFIXES)
            )
            if not names:
                return None
        return [RuleFile(self.root / n, _decode(self.root / n, self.files[n])) for n in names]


def digest_of(policy_text: str, recognizers: list[RuleFile]) -> str:
    """The sha256 of the DLP rules: the policy file and every recognizer file, in order."""
    h = hashlib.sha256(policy_text.encode("utf-8"))
    for rule in recognizers:
        h.update(b"\0" + rule.path.name.encode() + b"\0" + rule.text.encode("utf-8"))
    return h.hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8") from exc
