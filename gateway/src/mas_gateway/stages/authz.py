"""Authorization stage: Casbin decides whether the sender may send this message type to the target.

Roles are those of `policies/roles.csv`, the operator-set ``roles`` of the sender's
trust record, and the implicit base role ``agent``. Default deny; an explicit
deny overrides any allow. Shadow rules are recorded in the context, never applied.
"""

from __future__ import annotations

import logging

from mas.errors import Forbidden
from mas.records import TrustRecord

from ..context import MessageContext
from .base import Batch

__all__ = ["AuthorizationStage", "registry_roles"]

log = logging.getLogger(__name__)


def registry_roles(trust: TrustRecord | None) -> tuple[str, ...]:
    """Roles an operator set on the trust record (`mas agent provision --role`).

    None for credentials a development auto-provisioning issued: those get only the
    roles of ``policies/roles.csv``.

    Raises:
        Forbidden: the roles field is not a JSON list of role names (fail closed).
    """
    if trust is None or not trust.operator_provisioned:
        return ()
    if not trust.roles_valid:
        raise Forbidden("the sender's registry roles are not a JSON list of role names")
    return trust.roles


class AuthorizationStage:
    """Fills roles, groups, rule and shadow decisions; 403 when denied."""

    name = "authz"

    async def prepare(self, batch: Batch[None]) -> None:
        """Nothing to do for the whole batch."""

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        """Decide under the batch's policy; raise `Forbidden` naming the rule when denied."""
        envelope = ctx.envelope
        if envelope is None:
            raise Forbidden("authorization needs a parsed envelope")
        policy = batch.policy
        extra = registry_roles(ctx.sender_trust)
        decision = policy.decide(
            envelope.sender_id, envelope.target_id, envelope.message_type, extra
        )
        ctx.sender_roles = decision.roles
        ctx.target_groups = decision.target_groups
        ctx.authz_rule = decision.rule
        ctx.shadow_decisions = [shadow.as_dict() for shadow in decision.shadow]
        if not decision.allowed:
            raise Forbidden(decision.reason, message_id=envelope.message_id)
