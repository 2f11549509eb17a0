"""The real Jaeger with the topology's config: it starts, answers its query API, takes
OTLP/HTTP, and listens on exactly the planned ports, all on 127.0.0.1 (with no config it
would serve its UI and API on every interface)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from gatemesh.runner import RunnerError
from gatemesh.runner.jaeger import JaegerQuery, find_jaeger
from gatemesh.topology import PortPlan
from gatemesh.topology.jaeger import jaeger_config
from gatemesh.tracing import make_tracer
from gatemesh.tracing.config import TracingConfig

pytestmark = [pytest.mark.integration]
START_S = 30.0


@pytest.fixture
def jaeger(port_bases, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, PortPlan]]:
    try:
        binary = find_jaeger()
    except RunnerError as e:
        pytest.fail(str(e), pytrace=False)  # setup.sh installs it: missing is a failure, not a skip
    base = port_bases.acquire()
    ports = PortPlan.from_base(base)
    (tmp_path / "jaeger.yaml").write_text(jaeger_config(ports))
    proc = subprocess.Popen([binary, "--config", str(tmp_path / "jaeger.yaml")], stderr=subprocess.PIPE)
    try:
        query = JaegerQuery(ports.url(ports.jaeger_query), timeout_s=0.5)
        deadline = time.monotonic() + START_S
        while True:
            try:
                query.services()
                break
            except RunnerError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                assert time.monotonic() < deadline, "Jaeger did not answer its query API"
                time.sleep(0.05)
        yield proc, ports
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        port_bases.release(base)


def test_jaeger_listens_on_loopback_only_on_the_planned_ports(jaeger):
    proc, ports = jaeger
    listening = {
        (c.laddr.ip, c.laddr.port) for c in psutil.Process(proc.pid).net_connections("inet") if c.status == "LISTEN"
    }
    assert listening == {("127.0.0.1", p) for p in (ports.jaeger_query, ports.jaeger_grpc, ports.jaeger_otlp)}


def test_spans_sent_over_otlp_come_back_from_the_query_api(jaeger):
    _, ports = jaeger
    tracer = make_tracer("probe", TracingConfig(endpoint=ports.url(ports.jaeger_otlp)), "jaeger-probe", "probe-1")
    span = tracer._otel.start_span("probe span")  # noqa: SLF001 (the SDK tracer itself)
    trace_id = f"{span.get_span_context().trace_id:032x}"
    span.end()
    tracer.shutdown()  # flushes
    query = JaegerQuery(ports.url(ports.jaeger_query))
    deadline = time.monotonic() + 10
    while not (spans := query.trace(trace_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [s["operationName"] for s in spans] == ["probe span"]
    assert spans[0]["service"] == "jaeger-probe" and "jaeger-probe" in query.services()
