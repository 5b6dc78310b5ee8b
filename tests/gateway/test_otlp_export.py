"""A process configured by `mas.otel_setup` exports the whole trace to an OTLP collector.

The collector is a tiny OTLP/HTTP receiver in the test, decoding the protobuf requests.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .trace_checks import SpanRecord, assert_message_trace

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

REPO = Path(__file__).resolve().parents[2]
SECRET = "wheezing since the hike on Tuesday"


class Collector(ThreadingHTTPServer):
    """Keeps every span of every OTLP/HTTP trace export, with its resource's service name."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[SpanRecord] = []
        self.services: set[str] = set()
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        reply = b""
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            with self.server.lock:
                for resource_spans in request.resource_spans:
                    for attribute in resource_spans.resource.attributes:
                        if attribute.key == "service.name":
                            self.server.services.add(str(_value(attribute.value)))
                    for scope_spans in resource_spans.scope_spans:
                        self.server.spans.extend(_record(s) for s in scope_spans.spans)
            reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


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
