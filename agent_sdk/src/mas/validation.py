"""One summary of a pydantic validation error: where and what, never the offending values."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["validation_summary"]


def validation_summary(exc: ValidationError, *, limit: int = 10) -> str:
    """Field paths and messages of the first `limit` problems, joined by "; "."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
