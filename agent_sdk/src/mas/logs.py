"""Logging options of the long-running MAS commands: ``--log-level`` and ``--log-format``."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = [
    "LOG_LEVELS",
    "NOISY_LIBRARIES",
    "JsonFormatter",
    "add_logging_options",
    "configure_logging",
    "log_level",
]

NOISY_LIBRARIES = ("casbin", "presidio-analyzer", "presidio-anonymizer")
"""Libraries that log their whole configuration at INFO; shown from WARNING on."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(value: str) -> str:
    """`value` as a level name; `argparse.ArgumentTypeError` naming the choices."""
    level = value.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a log level (choose from {', '.join(LOG_LEVELS)})"
        )
    return level


def add_logging_options(parser: argparse.ArgumentParser, *, default: str = "INFO") -> None:
    """Add ``--log-level`` (validated) and ``--log-format`` for a long-running command."""
    parser.add_argument(
        "--log-level",
        type=log_level,
        default=default,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text: one plain line per record; json: one JSON object per line "
        "(default: %(default)s)",
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as compact JSON."""
        import json

        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log records on stderr, one line each: plain text, or JSON with ``fmt="json"``."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, log_level(level)), handlers=[handler])
    if logging.getLogger().level > logging.DEBUG:
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
