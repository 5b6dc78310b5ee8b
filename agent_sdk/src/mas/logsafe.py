"""Logging an unexpected error on the message path without quoting a payload.

An exception's message may quote the value it failed on (a validation error quotes
its input, a KeyError its key), and on the message path that value can be
unscanned personal data. `log_failure` logs the exception's type and the stack
(file, line, source line), never its message or its arguments.
"""

from __future__ import annotations

import logging
import sys
import traceback

__all__ = ["log_failure"]


def log_failure(logger: logging.Logger, message: str, *args: object) -> None:
    """Log `message % args` at ERROR with the current exception's type and stack only."""
    exc = sys.exc_info()[1]
    if exc is None:
        logger.error(message, *args)
        return
    stack = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    logger.error(
        message + " (%s; its message is not logged: it may quote a payload)\n%s",
        *args,
        type(exc).__qualname__,
        stack,
    )
