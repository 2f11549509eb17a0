"""gatemesh.accesslog: the JSON line (every field, escaping), the trace ids from a
W3C traceparent, the bounded buffer, rotation, and the switch at the process edge."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gatemesh.accesslog import AccessLog, AccessLogConfig, file_name, from_env
from gatemesh.http.messages import Request, Response

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def answered(**headers: bytes) -> Response:
    hs = [(n.replace("_", "-").encode(), v) for n, v in headers.items()]
    return Response(200, hs, b'{"id": 1}')


def test_a_forwarded_request_is_one_line_with_every_field(tmp_path: Path) -> None:
    log = AccessLog("sidecar:catalog-1", AccessLogConfig(str(tmp_path / "a.jsonl")), own_service="catalog")
    req = Request(b"GET", b"/items/1?x=2", [(b"traceparent", TRACEPARENT)], b"")
    resp = answered(
        x_instance=b"catalog-1",
        x_gatemesh_attempts=b"sidecar:catalog-1=2, sidecar:storefront-1=1",
        x_gatemesh_reason=b"fallback",
    )
    before = time.time()
    log.record(req, resp, "local", time.monotonic() - 0.010)
    log.flush()
    [line] = lines(tmp_path / "a.jsonl")
    assert line["proxy"] == "sidecar:catalog-1"
    # not traced here: the caller's trace id, and no span of this proxy's
    assert (line["trace_id"], line["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "")
    assert (line["method"], line["path"], line["service"]) == ("GET", "/items/1", "catalog")
    assert (line["status"], line["reason"], line["attempts"], line["upstream"]) == (200, "fallback", 2, "catalog-1")
    assert 10_000 <= line["duration_us"] < 1_000_000
    assert (line["bytes_received"], line["bytes_sent"]) == (0, 9)
    started = time.mktime(time.strptime(line["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert before - 2 <= started <= before + 1


def test_odd_values_are_escaped_and_odd_trace_headers_are_no_trace(tmp_path: Path) -> None:
    log = AccessLog("gateway", AccessLogConfig(str(tmp_path / "a.jsonl")))
    odd = [
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # too short
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        b"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  # not hex
    ]
    for header in odd:
        req = Request(b"GET", b'/a"b\\c\x7f', [(b"traceparent", header)], b"xyz")
        log.record(req, Response(503, [(b"x-instance", b'evil"\n')]), 'svc"', time.monotonic())
    log.flush()
    got = lines(tmp_path / "a.jsonl")
    assert [(g["trace_id"], g["span_id"]) for g in got] == [("", "")] * len(odd)
    assert got[0]["path"] == '/a"b\\c\x7f' and got[0]["upstream"] == 'evil"\n' and got[0]["service"] == 'svc"'
    assert got[0]["bytes_received"] == 3 and got[0]["attempts"] == 0


def test_a_streamed_body_without_a_length_is_null(tmp_path: Path) -> None:
    async def chunks():
        yield b"x"

    log = AccessLog("gateway", AccessLogConfig(str(tmp_path / "a.jsonl")))
    log.record(Request(b"GET", b"/", [], b""), Response(200, [], stream=chunks()), "catalog", time.monotonic())
    log.record(
        Request(b"GET", b"/", [], b""),
        Response(200, [], stream=chunks(), content_length=5),
        "catalog",
        time.monotonic(),
    )
    log.flush()
    assert [g["bytes_sent"] for g in lines(tmp_path / "a.jsonl")] == [None, 5]


def test_the_buffer_is_bounded_and_the_file_rotates(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AccessLog("gateway", AccessLogConfig(str(path), max_pending_lines=10, max_file_bytes=4096))
    req = Request(b"GET", b"/api/catalog/1", [], b"")
    for _ in range(9):
        log.record(req, answered(), "catalog", time.monotonic())
    assert not path.exists()  # below the bound: nothing written on the request's path
    log.record(req, answered(), "catalog", time.monotonic())
    assert len(lines(path)) == 10  # the bound reached: written at once
    for _ in range(100):
        log.record(req, answered(), "catalog", time.monotonic())
    log.flush()
    rotated = path.with_name(path.name + ".1")
    assert rotated.exists() and path.stat().st_size <= 4096
    assert log.written == 110


def test_the_process_edge_switch(tmp_path: Path) -> None:
    assert from_env("gateway", {}) is None
    assert from_env("gateway", {"GATEMESH_ACCESS_LOG_DIR": str(tmp_path), "GATEMESH_ACCESS_LOG": "off"}) is None
    log = from_env("sidecar:catalog-1", {"GATEMESH_ACCESS_LOG_DIR": str(tmp_path)})
    assert log is not None and log.path == tmp_path / "sidecar-catalog-1.access.jsonl"
    assert file_name("gateway") == "gateway.access.jsonl"


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"path": ""}, "needs a file path"),
        ({"flush_interval_s": 0}, "flush_interval_s"),
        ({"max_pending_lines": 0}, "max_pending_lines"),
        ({"max_file_bytes": 10}, "max_file_bytes"),
    ],
)
def test_config_is_validated_with_a_sentence(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AccessLogConfig(**{"path": "x", **changes})
