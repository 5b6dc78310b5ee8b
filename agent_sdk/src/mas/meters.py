"""OpenTelemetry metric instruments of the SDK.

API only: they record nothing until a meter provider is installed (``mas gateway``,
``mas service`` and ``mas demo`` install one when ``OTEL_*`` asks; see `mas.otel_setup`).

Attributes use the span vocabulary (`mas.sender`, `mas.target`, `mas.message_type`,
`mas.outcome`): agent ids and message types, which the policy bounds; never a
message id or a payload value.
"""

from __future__ import annotations

from opentelemetry import metrics

__all__ = ["handler_duration", "messages_failed", "messages_handled", "messages_sent"]

_meter = metrics.get_meter("mas")

messages_sent = _meter.create_counter(
    "mas.messages.sent", unit="{message}", description="Messages submitted to the gateway."
)
messages_handled = _meter.create_counter(
    "mas.messages.handled",
    unit="{message}",
    description="Deliveries whose handler returned without an error.",
)
messages_failed = _meter.create_counter(
    "mas.messages.failed",
    unit="{message}",
    description="Deliveries whose handler raised, whose payload did not validate or that "
    "no handler takes (mas.outcome: handler_error, invalid_payload, no_handler).",
)
handler_duration = _meter.create_histogram(
    "mas.handler.duration", unit="s", description="Time a handler ran on one delivery."
)
