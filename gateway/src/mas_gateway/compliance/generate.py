"""Generate a compliance report: collect evidence from Redis and `policies/`, write HTML + JSON."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from redis.exceptions import RedisError

from mas.errors import ConfigError
from mas.redis_connect import connect_redis
from mas.urls import redact_url

from ..audit.report import Witness
from .controls import Controls
from .evidence import collect_evidence
from .html import render_html
from .period import Period
from .report import build_report

__all__ = ["HTML_NAME", "JSON_NAME", "generate_report", "write_report"]

HTML_NAME = "report.html"
JSON_NAME = "report.json"


async def generate_report(
    controls: Controls,
    *,
    redis_url: str,
    policies_dir: Path,
    since: float,
    until: float | None = None,
    archive_dir: Path | None = None,
    trusted: Mapping[str, Ed25519PublicKey] | None = None,
    witness: Witness | None = None,
    witness_shard: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The report document for decisions from `since` to `until` (default: now).

    Raises:
        ConfigError: Redis cannot be reached, or the policies directory does not exist.
    """
    if not await asyncio.to_thread(policies_dir.is_dir):
        raise ConfigError(f"policies directory {policies_dir} not found")
    period = Period(since, until if until is not None else time.time() + 1.0)
    client = connect_redis(redis_url)
    try:
        try:
            await client.ping()  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            raise ConfigError(f"cannot reach Redis at {redact_url(redis_url)}: {exc}") from exc
        evidence = await collect_evidence(
            client,
            policies_dir=policies_dir,
            period=period,
            redis_url=redis_url,
            archive_dir=archive_dir,
            trusted=trusted,
            witness=witness,
            witness_shard=witness_shard,
            progress=progress,
        )
    finally:
        await client.aclose()
    return build_report(controls, evidence)


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(document: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `report.html` and `report.json` into `out_dir` (created when missing).

    Raises:
        ConfigError: the directory cannot be created or written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
        _write(json_path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        _write(html_path, render_html(document))
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from exc
    return html_path, json_path
