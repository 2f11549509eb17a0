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

import socket
import threading

POST_LIMIT_S = 2.0  # the whole rehearsal; it takes ~0.1 s


def _answer(listener: socket.socket, stop: threading.Event) -> None:
    """Answer each OTLP POST with an empty 200, on keep-alive connections, until `stop`."""
    listener.settimeout(0.05)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(POST_LIMIT_S)
            pending = b""
            try:
                while not stop.is_set():
                    head, sep, rest = pending.partition(b"\r\n\r\n")
                    if not sep:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        pending += chunk
                        continue
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(rest) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        rest += chunk
                    pending = rest[length:]
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
                    )
            except OSError:
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
    listener = socket.socket()
    stop = threading.Event()
    worker = threading.Thread(target=_answer, args=(listener, stop), name="rehearsal", daemon=True)
    provider = None
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
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
        stop.set()  # the exporter's connection closed with the provider: the listener ends within 0.05 s
        if worker.is_alive():
            worker.join(3 * POST_LIMIT_S)
        listener.close()
