"""Read every file of a policies directory once: the bytes that get parsed are the bytes hashed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Issue, PolicyError

__all__ = [
    "MODEL_FILE",
    "POLICY_FILE",
    "RATELIMITS_FILE",
    "REQUIRED_FILES",
    "ROLES_FILE",
    "TESTS_DIR",
    "PolicySources",
    "fingerprint",
    "read_sources",
]

MODEL_FILE = "model.conf"
POLICY_FILE = "policy.csv"
ROLES_FILE = "roles.csv"
RATELIMITS_FILE = "ratelimits.yaml"
TESTS_DIR = "tests"
REQUIRED_FILES = (MODEL_FILE, POLICY_FILE, ROLES_FILE, RATELIMITS_FILE)

MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 16 << 20
MAX_DEPTH = 4
_SCRATCH_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".bak", ".orig", ".pyc")


@dataclass(frozen=True)
class PolicySources:
    """The raw bytes of every policy file, keyed by POSIX path relative to `root`."""

    root: Path
    files: Mapping[str, bytes]
    version: str

    def display(self, name: str) -> str:
        """How error messages name a file: the policies directory joined with `name`."""
        return str(self.root / name)

    def text(self, name: str) -> str:
        """A file decoded as UTF-8; `PolicyError` naming the line of the first bad byte."""
        raw = self.files[name]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise PolicyError([Issue(self.display(name), line, "not valid UTF-8")]) from exc

    def names_under(self, folder: str, suffixes: tuple[str, ...]) -> list[str]:
        """Files directly inside `folder` whose names end with one of `suffixes`, sorted."""
        prefix = folder.rstrip("/") + "/"
        return sorted(
            name
            for name in self.files
            if name.startswith(prefix)
            and "/" not in name[len(prefix) :]
            and name.endswith(suffixes)
        )


def _policy_files(root: Path) -> Iterator[Path]:
    """Policy files in name order; follows symlinks (mounted config), skips hidden and scratch."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = [] if depth >= MAX_DEPTH else [
            name for name in dirs if not name.startswith(".") and name != "__pycache__"
        ]  # fmt: skip
        for name in names:
            if name.startswith(".") or name.endswith(_SCRATCH_SUFFIXES):
                continue
            path = Path(folder) / name
            if path.is_file():
                found.append(path)
    yield from sorted(found, key=lambda path: path.relative_to(root).as_posix())


def read_sources(root: str | Path) -> PolicySources:
    """Read the directory; `PolicyError` when it or a required file is missing or too large."""
    base = Path(root)
    if not base.is_dir():
        raise PolicyError([Issue(str(base), 0, "policies directory not found")])
    files: dict[str, bytes] = {}
    issues: list[Issue] = []
    total = 0
    for path in _policy_files(base):
        name = path.relative_to(base).as_posix()
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                issues.append(Issue(str(path), 0, f"file larger than {MAX_FILE_BYTES} bytes"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            issues.append(Issue(str(path), 0, f"cannot read: {exc.strerror or exc}"))
            continue
        total += len(data)
        files[name] = data
    if total > MAX_TOTAL_BYTES:
        issues.append(Issue(str(base), 0, f"policy files larger than {MAX_TOTAL_BYTES} bytes"))
    issues.extend(
        Issue(str(base / name), 0, "required file is missing")
        for name in REQUIRED_FILES
        if name not in files
    )
    if issues:
        raise PolicyError(issues)
    return PolicySources(root=base, files=files, version=_version(files))


def _version(files: Mapping[str, bytes]) -> str:
    """sha256 over every file's name, length and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        encoded = name.encode("utf-8")
        digest.update(len(encoded).to_bytes(4, "big"))
        digest.update(encoded)
        digest.update(len(files[name]).to_bytes(8, "big"))
        digest.update(files[name])
    return digest.hexdigest()


def fingerprint(root: str | Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detector: (name, mtime_ns, size) of every policy file."""
    base = Path(root)
    if not base.is_dir():
        return ()
    entries: list[tuple[str, int, int]] = []
    for path in _policy_files(base):
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((path.relative_to(base).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)
