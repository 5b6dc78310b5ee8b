"""The demo shipped with the gateway: the healthcare consultation scenario and its policies.

``mas demo`` runs it from an installed wheel as from a checkout: the agents
(`agents`), the story (`scenario`), the responders they answer with (`responders`)
and the policy set they run under (`POLICIES`, which the repository's ``policies/``
links to). ``examples/`` holds the tutorials that import these.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["POLICIES"]

POLICIES = Path(__file__).resolve().parent / "policies"
"""The demo's policy set: roles, routes, rate limits, DLP rules and policy test cases."""
