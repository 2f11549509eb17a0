"""One traced export, done by the fork server before it forks anything, so that the children
inherit its side effects instead of each making them again.

Why: after a fork, every page a child writes is copied for it alone, and in CPython 3.11
running code writes: it moves reference counts, specialises bytecode in place, and fills
the lazy caches libraries keep (compiled regexes, `Resource` detectors, the protobuf
encoder's tables, `requests`' and urllib3's defaults). Measured in one child that traced
200 requests after the fork server's imports (`gatemesh/runner/forkserver.py`): without
this rehearsal its PSS grew by 5.2 MiB, with it by 3.7 MiB; with 25 traced components in
`edge-mesh` that is ~35 MiB of the topology. What is left is the reference counts of the
objects the child touches, which only a CPython with immortal objects would spare.

The rehearsal is the path each component takes: a `TracerProvider` with a `Resource`,
spans with attributes, events and a status, a `BatchSpanProcessor` handing them to the
OTLP/HTTP exporter, and that exporter posting to a throwaway loopback listener that
answers 200. Everything it starts is stopped before it returns (the fork server forks
from a process with one thread only). Any failure only skips it: it is an optimisation.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

POST_LIMIT_S = 2.0  # one export; the whole rehearsal takes ~0.1 s


class _Accept(BaseHTTPRequestHandler):
    """Answer each OTLP POST with an empty 200, on a keep-alive connection."""

    protocol_version = "HTTP/1.1"
    timeout = POST_LIMIT_S

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's signature)
        pass


def rehearse_tracing() -> bool:
    """Trace a few spans and export them once; True if the export succeeded."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, Status, StatusCode
    except ImportError:
        return False
    try:
        listener = HTTPServer(("127.0.0.1", 0), _Accept)
    except OSError:
        return False
    worker = threading.Thread(target=listener.serve_forever, args=(0.05,), name="rehearsal", daemon=True)
    provider = None
    try:
        port = listener.server_address[1]
        worker.start()
        provider = TracerProvider(resource=Resource.create({"service.name": "rehearsal"}), shutdown_on_exit=False)
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=POST_LIMIT_S)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
        tracer = provider.get_tracer("gatemesh")
        for _ in range(8):
            with tracer.start_as_current_span("GET /rehearsal", kind=SpanKind.SERVER) as server:
                server.set_attribute("http.request.method", "GET")
                server.set_attribute("http.response.status_code", 200)
                with tracer.start_as_current_span("attempt", kind=SpanKind.CLIENT) as client:
                    client.set_attribute("gatemesh.attempt", 1)
                    client.add_event("rehearsal", {"gatemesh.cause": "none"})
                    client.set_status(Status(StatusCode.ERROR, "rehearsal"))
        return provider.force_flush(int(POST_LIMIT_S * 1000))
    except Exception:
        return False
    finally:
        if provider is not None:
            provider.shutdown()  # joins the processor's worker thread
        if worker.is_alive():
            listener.shutdown()  # returns once serve_forever has (the exporter's connection is closed)
            worker.join(POST_LIMIT_S)
        listener.server_close()
