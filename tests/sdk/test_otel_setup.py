"""`mas.otel_setup`: which exporters the OTEL_* variables ask for, and who is left alone."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mas.errors import ConfigError
from mas.otel_setup import _resource, configure_telemetry, exporter_names


def test_nothing_is_exported_unless_a_variable_asks() -> None:
    assert exporter_names("traces", {}) == []
    assert exporter_names("metrics", {"OTEL_SERVICE_NAME": "x"}) == []
    assert configure_telemetry("x", {}).providers == []


def test_an_otlp_endpoint_alone_sends_traces_and_metrics_over_otlp_http() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert exporter_names("traces", env) == ["otlp_proto_http"]
    assert exporter_names("metrics", env) == ["otlp_proto_http"]
    only_traces = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    assert exporter_names("traces", only_traces) == ["otlp_proto_http"]
    assert exporter_names("metrics", only_traces) == []


def test_exporter_lists_and_protocols() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console, otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    assert exporter_names("traces", env) == ["console", "otlp_proto_grpc"]
    env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    assert exporter_names("traces", env) == ["console", "otlp_proto_http"]
    assert exporter_names("traces", {"OTEL_TRACES_EXPORTER": "none"}) == []
    with pytest.raises(ConfigError, match="protocol"):
        exporter_names(
            "traces", {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "x"}
        )


def test_an_unknown_or_missing_exporter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no-such"):
        configure_telemetry("x", {"OTEL_METRICS_EXPORTER": "no-such"})
    grpc = {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp-proto-grpc"):
        configure_telemetry("x", grpc)


def test_a_provider_already_configured_is_left_alone(spans: InMemorySpanExporter) -> None:
    provider = trace.get_tracer_provider()
    assert configure_telemetry("x", {"OTEL_TRACES_EXPORTER": "console"}).providers == []
    assert trace.get_tracer_provider() is provider


def test_the_service_name_is_a_default_the_variables_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert _resource("mas-gateway").attributes["service.name"] == "mas-gateway"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=edge,deployment.environment=x")
    resource = _resource("mas-gateway")
    assert resource.attributes["service.name"] == "edge"
    assert resource.attributes["deployment.environment"] == "x"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gw-1")
    assert _resource("mas-gateway").attributes["service.name"] == "gw-1"
