"""Configure the OpenTelemetry SDK of a process from the standard ``OTEL_*`` variables.

`configured_telemetry` installs a tracer provider and a meter provider when a variable
asks for export and the process has none yet (a user's or ``opentelemetry-instrument``'s
setup is left alone), and shuts them down (flushing what is buffered) on exit:

- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``otlp``, ``console``, ``none``
  or any exporter registered under the SDK's entry points; unset means ``otlp`` when an
  OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or its per-signal variant), else
  ``none``. So without any ``OTEL_*`` variable nothing is configured or exported.
- ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or its per-signal variant) picks the OTLP exporter:
  ``http/protobuf`` (the default, installed with the gateway) or ``grpc`` (needs
  ``opentelemetry-exporter-otlp-proto-grpc``).

Everything else (endpoints, headers, timeouts, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, samplers, batch and export intervals, ``OTEL_SDK_DISABLED``)
is read by the SDK and the exporters themselves. Needs ``opentelemetry-sdk`` (the
``mas-agent-sdk[otel]`` extra); the rest of the SDK uses the API only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import metrics, trace

from .errors import ConfigError

__all__ = ["Telemetry", "configure_telemetry", "configured_telemetry", "exporter_names"]

_OTLP_ENTRY_POINTS = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}
_OTLP_PACKAGES = {
    "http/protobuf": "opentelemetry-exporter-otlp-proto-http",
    "grpc": "opentelemetry-exporter-otlp-proto-grpc",
}


@dataclass
class Telemetry:
    """The providers `configure_telemetry` installed (empty when it installed none)."""

    providers: list[Any] = field(default_factory=list)

    def shutdown(self) -> None:
        """Flush and shut down every provider installed."""
        for provider in self.providers:
            provider.shutdown()
        self.providers.clear()


def exporter_names(signal: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Exporter entry-point names for ``traces`` or ``metrics`` asked for by `env`.

    ``otlp`` is resolved to the exporter of the configured protocol; ``none`` yields none.
    """
    env = os.environ if env is None else env
    upper = signal.upper()
    raw = env.get(f"OTEL_{upper}_EXPORTER", "").strip()
    if not raw:
        endpoint = env.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        raw = "otlp" if endpoint else "none"
    protocol = (
        env.get(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    names: list[str] = []
    for name in (part.strip() for part in raw.split(",")):
        if not name or name == "none":
            continue
        if name == "otlp":
            if protocol not in _OTLP_ENTRY_POINTS:
                raise ConfigError(f"unknown OTLP protocol {protocol!r} (http/protobuf or grpc)")
            name = _OTLP_ENTRY_POINTS[protocol]
        if name not in names:
            names.append(name)
    return names


def _exporter(signal: str, name: str) -> Any:
    found = entry_points(group=f"opentelemetry_{signal}_exporter", name=name)
    for entry in found:
        return entry.load()()
    package = next(
        (p for proto, p in _OTLP_PACKAGES.items() if _OTLP_ENTRY_POINTS[proto] == name), None
    )
    hint = f" (install {package})" if package else ""
    raise ConfigError(f"no OpenTelemetry {signal} exporter named {name!r} is installed{hint}")


def _resource(service_name: str) -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
    named = str(resource.attributes.get(SERVICE_NAME, ""))
    if named.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    return resource


def configure_telemetry(service_name: str, env: Mapping[str, str] | None = None) -> Telemetry:
    """Install the providers the ``OTEL_*`` variables ask for; `service_name` is the default.

    A signal whose global provider is already set, or that no variable asks to export,
    is left as it is.

    Raises:
        ConfigError: an exporter asked for is unknown or not installed.
    """
    env = os.environ if env is None else env
    telemetry = Telemetry()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return telemetry
    trace_names = exporter_names("traces", env) if _unset(trace.get_tracer_provider()) else []
    metric_names = exporter_names("metrics", env) if _unset(metrics.get_meter_provider()) else []
    if not trace_names and not metric_names:
        return telemetry
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            "OTEL_* variables ask for telemetry export: install opentelemetry-sdk "
            "(pip install 'mas-agent-sdk[otel]')"
        ) from exc
    resource = _resource(service_name)
    span_exporters = [_exporter("traces", name) for name in trace_names]
    metric_exporters = [_exporter("metrics", name) for name in metric_names]
    if span_exporters:
        tracer_provider = TracerProvider(resource=resource)
        for exporter in span_exporters:
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        telemetry.providers.append(tracer_provider)
    if metric_exporters:
        readers = [PeriodicExportingMetricReader(exporter) for exporter in metric_exporters]
        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        metrics.set_meter_provider(meter_provider)
        telemetry.providers.append(meter_provider)
    return telemetry


@contextmanager
def configured_telemetry(service_name: str) -> Iterator[Telemetry]:
    """`configure_telemetry` for the duration of the block, shut down (flushed) after it."""
    telemetry = configure_telemetry(service_name)
    try:
        yield telemetry
    finally:
        telemetry.shutdown()


def _unset(provider: object) -> bool:
    """Whether `provider` is the API's placeholder, i.e. nobody configured one yet."""
    if isinstance(provider, trace.ProxyTracerProvider):
        return True
    return type(provider).__name__ == "_ProxyMeterProvider"
