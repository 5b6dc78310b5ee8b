"""The identifier grammars of the wire format, importable without the envelope's dependencies.

`mas.envelope` applies them; policy files and the command line check names with them.
"""

from __future__ import annotations

__all__ = ["AGENT_ID_PATTERN", "ID_PATTERN", "MESSAGE_TYPE_PATTERN", "NONCE_PATTERN"]

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
MESSAGE_TYPE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,127}$"
ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
"""message_id, correlation_id and in_reply_to."""
NONCE_PATTERN = r"^[A-Za-z0-9_\-]{16,64}$"
