"""PolicyError: every problem found in `policies/`, each naming its file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mas.errors import ConfigError

__all__ = ["Issue", "PolicyError"]


@dataclass(frozen=True)
class Issue:
    """One problem in one policy file; `line` is 1-based, 0 when it concerns the whole file."""

    file: str
    line: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


class PolicyError(ConfigError):
    """The policy files are invalid (or their tests fail); the old policy, if any, stays."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues) or (
            Issue("policies", 0, "invalid policy (no detail)"),
        )
        first = str(self.issues[0])
        more = len(self.issues) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(first + suffix)
