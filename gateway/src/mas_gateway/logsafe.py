"""Logging an unexpected error on the message path without quoting a payload (`mas.logsafe`)."""

from mas.logsafe import log_failure

__all__ = ["log_failure"]
