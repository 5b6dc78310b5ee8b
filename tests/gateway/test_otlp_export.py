"""A process configured by `mas.otel_setup` exports the whole trace, and the metrics of
the gateway and the SDK, to an OTLP collector.

The collector is a tiny OTLP/HTTP receiver in the test, decoding the protobuf requests.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .trace_checks import SpanRecord, assert_message_trace

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

REPO = Path(__file__).resolve().parents[2]
SECRET = "wheezing since the hike on Tuesday"


@dataclass(frozen=True)
class Point:
    """One exported metric data point: a number (sums, gauges) or a histogram's count."""

    metric: str
    attributes: dict[str, object]
    value: float


class Collector(ThreadingHTTPServer):
    """Keeps every span and metric point of OTLP/HTTP exports, with the service names."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[SpanRecord] = []
        self.points: list[Point] = []
        self.services: set[str] = set()
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        collector = cast(Collector, self.server)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        reply = b""
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            with collector.lock:
                for resource_spans in request.resource_spans:
                    for attribute in resource_spans.resource.attributes:
                        if attribute.key == "service.name":
                            collector.services.add(str(_value(attribute.value)))
                    for scope_spans in resource_spans.scope_spans:
                        collector.spans.extend(_record(s) for s in scope_spans.spans)
            reply = ExportTraceServiceResponse().SerializeToString()
        elif self.path == "/v1/metrics":
            metrics = ExportMetricsServiceRequest.FromString(body)
            with collector.lock:
                for resource_metrics in metrics.resource_metrics:
                    for scope_metrics in resource_metrics.scope_metrics:
                        for metric in scope_metrics.metrics:
                            collector.points.extend(_points(metric))
            reply = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _attributes(attributes: Iterable[KeyValue]) -> dict[str, object]:
    return {a.key: _value(a.value) for a in attributes}


def _points(metric: Metric) -> Iterator[Point]:
    kind = metric.WhichOneof("data")
    if kind in ("sum", "gauge"):
        for p in getattr(metric, kind).data_points:
            number = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
            yield Point(metric.name, _attributes(p.attributes), float(number))
    elif kind == "histogram":
        for p in metric.histogram.data_points:
            yield Point(metric.name, _attributes(p.attributes), float(p.count))


def _record(span: Span) -> SpanRecord:
    return SpanRecord(
        name=span.name,
        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_id=span.parent_span_id or None,
        attributes={a.key: _value(a.value) for a in span.attributes},
    )


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.timeout(300)
async def test_one_trace_reaches_the_collector_from_sender_to_receiver(
    redis_url: str, collector: Collector
) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "MAS_REDIS_URL"
    }
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "tests" / "gateway" / "otlp_traced.py"),
        redis_url,
        SECRET,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-3000:]
    stages = out.decode().split()
    assert {"parse", "authn", "authz", "dlp"} <= set(stages)
    # The process exited: shutting the provider down flushed every span to the collector.
    with collector.lock:
        spans = list(collector.spans)
        services = set(collector.services)
    assert services == {"mas-trace-test"}
    assert_message_trace(
        spans, "patient", "doctor", "consultation.request", stages=stages, secret=SECRET
    )


def _total(points: list[Point], metric: str, **attributes: object) -> float:
    """The latest cumulative value of `metric` summed over points matching `attributes`."""
    latest: dict[tuple[tuple[str, object], ...], float] = {}
    for p in points:
        if p.metric == metric and all(p.attributes.get(k) == v for k, v in attributes.items()):
            latest[tuple(sorted(p.attributes.items()))] = p.value
    return sum(latest.values())


@pytest.mark.timeout(300)
async def test_metrics_of_the_gateway_and_the_sdk_reach_the_collector(
    redis_url: str, collector: Collector
) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "MAS_REDIS_URL"
    }
    env |= {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "otlp",
        "PYTHONPATH": str(REPO),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "tests" / "gateway" / "otlp_traced.py"),
        redis_url,
        SECRET,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-3000:]
    # Shutting the meter provider down at exit exported the cumulative values.
    with collector.lock:
        points = list(collector.points)
        spans = list(collector.spans)
    assert spans == []  # OTEL_TRACES_EXPORTER=none
    # the gateway: one delivered and one blocked (the SSN), stage latencies, the finding
    assert _total(points, "mas.gateway.decisions", **{"mas.decision": "delivered"}) == 2
    blocked = {"mas.decision": "blocked", "mas.code": "451", "mas.stage": "dlp"}
    assert _total(points, "mas.gateway.decisions", **blocked) == 1
    assert _total(points, "mas.gateway.stage.duration", **{"mas.stage": "authz"}) >= 1
    assert _total(points, "mas.gateway.dlp.findings", **{"mas.dlp.entity_type": "US_SSN"}) == 1
    # the SDK: sent by each sender, handled by the doctor, its handler's duration
    sent = "mas.messages.sent"
    assert _total(points, sent, **{"mas.sender": "patient"}) == 1
    assert _total(points, sent, **{"mas.sender": "doctor"}) == 2
    handled = {"mas.target": "doctor", "mas.message_type": "consultation.request"}
    assert _total(points, "mas.messages.handled", **handled) == 1
    assert _total(points, "mas.handler.duration", **handled, **{"mas.outcome": "ok"}) == 1
    values = [str(v) for p in points for v in p.attributes.values()]
    assert not [v for v in values if SECRET in v or "123-45-6789" in v]
