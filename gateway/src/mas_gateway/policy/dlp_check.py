"""The DLP side of policy tests: what `policies/dlp.yaml` does with a test case's payload.

The DLP engine (Presidio and spaCy) is loaded only when the policies directory has a
`dlp.yaml` and a test case expects a `dlp_action`, so authorization-only checks stay fast.
"""

from __future__ import annotations

from mas.errors import ConfigError

from .cases import PolicyTestCase
from .policyset import PolicySet
from .testing import DlpCheck

__all__ = ["DLP_FILE", "dlp_check_for", "dlp_problem", "dlp_rules_problem"]

DLP_FILE = "dlp.yaml"


def dlp_check_for(policy: PolicySet) -> DlpCheck | None:
    """A check running the DLP engine of `policy`'s directory, or None when nothing needs one.

    Raises:
        ConfigError: `dlp.yaml` or a recognizer file is invalid (file and line named).
    """
    if DLP_FILE not in policy.files or not any(case.dlp_action for case in policy.test_cases):
        return None
    from ..dlp.engine.shared import engine_for

    engine = engine_for(policy)  # the gateway's stage later applies this same engine

    def check(subject: PolicySet, case: PolicyTestCase) -> str:
        roles = subject.roles_of(case.sender, case.roles)
        groups = subject.groups_of(case.target)
        return engine.evaluate(dict(case.payload or {}), roles, groups).action

    return check


def dlp_rules_problem(policy: PolicySet) -> str | None:
    """Why `dlp.yaml` cannot be read, without loading Presidio or spaCy; None when it reads.

    Recognizer files must exist; their contents are checked only by `dlp_problem`.
    """
    if DLP_FILE not in policy.files:
        return None
    from ..dlp.loading.policy_file import load_rules
    from ..dlp.loading.source import FilesSource

    try:
        load_rules(FilesSource(policy.sources.root, policy.files))
    except ConfigError as exc:
        return str(exc)
    return None


def dlp_problem(policy: PolicySet) -> str | None:
    """Why `dlp.yaml` (with its recognizers) cannot be loaded; None when it loads or is absent."""
    if DLP_FILE not in policy.files:
        return None
    from ..dlp.engine.shared import engine_for

    try:
        engine_for(policy)
    except ConfigError as exc:
        return str(exc)
    return None
