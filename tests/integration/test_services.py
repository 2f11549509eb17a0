"""The sample services as real processes: ``python -m services.<name>`` on loopback.

Every process is started by this module, found by its PID and stopped by it at
teardown (SIGTERM, then SIGKILL after a few seconds). The storefront's --outbound is a
tiny Host-routing forwarder run in a thread here (in a real topology it is a sidecar
or the gateway's internal listener).
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
DEADLINE = "X-Gatemesh-Deadline-Ms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """One service process, with its stderr in a file for post-mortems."""

    def __init__(self, module: str, args: list[str], log_dir: Path, name: str) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.popen.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail(f"{self.log_path.stem} exited with {self.popen.returncode}:\n{self.log()}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.log_path.stem} not healthy after {START_TIMEOUT_S}s:\n{self.log()}")

    def stop(self) -> int:
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(STOP_TIMEOUT_S)
        self._log.close()
        return self.popen.returncode


class Forwarder:
    """GET-only forwarder: the Host header names the service, the path is kept."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self.deadlines: list[str | None] = []
        forwarder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                service = (self.headers.get("Host") or "").split(":")[0]
                forwarder.deadlines.append(self.headers.get(DEADLINE))
                headers = {k: v for k, v in self.headers.items() if k.lower() == DEADLINE.lower()}
                try:
                    upstream = requests.get(
                        f"http://127.0.0.1:{forwarder.ports[service]}{self.path}", headers=headers, timeout=5
                    )
                    status, body, extra = upstream.status_code, upstream.content, {}
                except (KeyError, requests.RequestException):
                    status, body, extra = 502, b'{"error": "forwarder failed"}', {"X-Gatemesh-Reason": "connect-failed"}
                self.send_response(status)
                for key, value in {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    **extra,
                }.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(module: str, instance: str, log_dir: Path, *extra: str) -> tuple[Proc, int]:
    port = free_port()
    proc = Proc(module, ["--instance", instance, "--port", str(port), *extra], log_dir, instance)
    return proc, port


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """One instance of every service (two of orders, sharing one db), all healthy."""
    log_dir = tmp_path_factory.mktemp("services")
    forwarder = Forwarder()
    db = str(log_dir / "orders.db")
    specs = {
        "catalog-1": ("services.catalog",),
        "pricing-1": ("services.pricing",),
        "inventory-1": ("services.inventory",),
        "reviews-1": ("services.reviews",),
        "storefront-1": ("services.storefront", "--outbound", f"http://127.0.0.1:{forwarder.port}"),
        "orders-1": ("services.orders", "--db", db),
        "orders-2": ("services.orders", "--db", db),
    }
    procs: dict[str, tuple[Proc, int]] = {}
    try:
        for instance, (module, *extra) in specs.items():
            procs[instance] = start(module, instance, log_dir, *extra)
        for proc, port in procs.values():
            proc.wait_healthy(port)
        for instance, (_, port) in procs.items():
            forwarder.ports[instance.rsplit("-", 1)[0]] = port
        yield {instance: f"http://127.0.0.1:{port}" for instance, (_, port) in procs.items()}, forwarder
    finally:
        for proc, _ in procs.values():
            proc.stop()
        forwarder.close()


@pytest.mark.parametrize(
    "instance", ["catalog-1", "pricing-1", "inventory-1", "reviews-1", "storefront-1", "orders-1", "orders-2"]
)
def test_every_service_is_healthy_and_names_its_instance(fleet, instance):
    urls, _ = fleet
    resp = requests.get(f"{urls[instance]}/health", timeout=5)
    assert resp.headers["X-Instance"] == instance
    assert resp.json() == {"status": "ok", "service": instance.rsplit("-", 1)[0], "instance": instance}


def test_unknown_path_is_json_not_html(fleet):
    urls, _ = fleet
    resp = requests.get(f"{urls['pricing-1']}/nope", timeout=5)
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["X-Instance"] == "pricing-1"


def test_storefront_composes_and_degrades_when_reviews_misbehave(fleet):
    urls, _ = fleet
    requests.delete(f"{urls['catalog-1']}/admin/stats", timeout=5)
    page = requests.get(f"{urls['storefront-1']}/products/5", timeout=5)
    assert page.status_code == 200 and page.json()["degraded"] == []
    assert page.json()["reviews"]["instance"] == "reviews-1"
    assert requests.get(f"{urls['catalog-1']}/admin/stats", timeout=5).json()["by_path"] == {"/products/5": 1}

    requests.put(f"{urls['reviews-1']}/admin/misbehave", json={"error_rate": 1, "error_status": 503}, timeout=5)
    try:
        page = requests.get(f"{urls['storefront-1']}/products/5", timeout=5)
        body = page.json()
        assert page.status_code == 200 and body["reviews"] is None
        assert body["degraded"] == ["reviews"] and body["reasons"] == {"reviews": "http-503"}
    finally:
        requests.delete(f"{urls['reviews-1']}/admin/misbehave", timeout=5)


def test_storefront_copies_the_remaining_deadline(fleet):
    urls, forwarder = fleet
    forwarder.deadlines.clear()
    assert requests.get(f"{urls['storefront-1']}/products/1", headers={DEADLINE: "3000"}, timeout=5).status_code == 200
    assert len(forwarder.deadlines) == 4
    assert all(d is not None and 1000 < int(d) <= 3000 for d in forwarder.deadlines)


def test_same_key_raced_at_two_order_processes_makes_one_order(fleet):
    urls, _ = fleet
    key = f"race-{time.monotonic_ns()}"

    def post(i: int) -> requests.Response:
        target = urls["orders-1" if i % 2 else "orders-2"]
        return requests.post(
            f"{target}/orders", json={"product_id": 4, "quantity": 1}, headers={"Idempotency-Key": key}, timeout=10
        )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(16)))
    assert sorted(r.status_code for r in responses) == [200] * 15 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert {r.headers["X-Instance"] for r in responses} == {"orders-1", "orders-2"}
    listing = requests.get(f"{urls['orders-2']}/orders?limit=1000", timeout=5).json()
    assert [o["idempotency_key"] for o in listing["orders"]].count(key) == 1


def test_sigterm_lets_an_in_flight_request_finish_then_exits_zero(tmp_path):
    proc, port = start("services.catalog", "catalog-9", tmp_path)
    try:
        proc.wait_healthy(port)
        requests.put(f"http://127.0.0.1:{port}/admin/misbehave", json={"delay_ms": 800}, timeout=5)
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(requests.get, f"http://127.0.0.1:{port}/products/1", timeout=5)
            time.sleep(0.3)  # the request is now inside the delay
            os.kill(proc.pid, signal.SIGTERM)
            assert slow.result().status_code == 200
        assert proc.popen.wait(STOP_TIMEOUT_S) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "required"),
        (["--instance", "c-1", "--port", "nope"], "port number"),
        (["--instance", "c-1", "--port", "1", "--register", "http://127.0.0.1:1"], "--advertise"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(args, needle):
    done = subprocess.run(
        [sys.executable, "-m", "services.catalog", *args], cwd=REPO, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("catalog: error: ") and needle in lines[0]


def test_port_in_use_prints_one_line_and_exits_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "services.pricing", "--instance", "p-1", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert errors == [errors[0]] and errors[0].startswith("pricing: error: cannot listen")
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("mesh.controlplane") is None, reason="mesh.controlplane not built yet")
def test_registers_with_the_real_control_plane_and_deregisters_on_sigterm(tmp_path):
    cp_port = free_port()
    cp = Proc("mesh.controlplane", ["--port", str(cp_port), "--open"], tmp_path, "controlplane")
    cp_url = f"http://127.0.0.1:{cp_port}"
    proc = None
    try:
        cp.wait_healthy(cp_port)
        proc, port = start(
            "services.inventory", "inventory-7", tmp_path,
            "--register", cp_url, "--advertise", "127.0.0.1:19999", "--ttl-s", "1.5",
        )  # fmt: skip
        proc.wait_healthy(port)

        def instances() -> list[dict]:
            resp = requests.get(f"{cp_url}/v1/services/inventory", timeout=5)
            return resp.json()["instances"] if resp.status_code == 200 else []

        deadline = time.monotonic() + 5
        while not instances() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(i["id"], i["address"]) for i in instances()] == [("inventory-7", "127.0.0.1:19999")]
        time.sleep(2.0)  # longer than the TTL: heartbeats keep it registered
        assert [i["id"] for i in instances()] == ["inventory-7"]

        assert proc.stop() == 0
        assert instances() == []  # deregistered on the way out, not expired later
    finally:
        if proc is not None:
            proc.stop()
        cp.stop()
