"""Errors of the audit log.

MASError
└── AuditError
    ├── AuditFormatError     a checkpoint, proof, export or archive record is malformed
    └── AuditIntegrityError  the log does not match its signed checkpoints: nothing is signed on top
"""

from __future__ import annotations

from mas.errors import MASError

__all__ = ["AuditError", "AuditFormatError", "AuditIntegrityError"]


class AuditError(MASError):
    """Base of every audit-log error."""


class AuditFormatError(AuditError):
    """A checkpoint, proof, export or archive record is malformed; the message says which."""


class AuditIntegrityError(AuditError):
    """The log or its latest checkpoint does not verify, so no checkpoint is signed on top."""
