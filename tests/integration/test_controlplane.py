"""The real ``python -m mesh.controlplane`` process on loopback: the HTTP API of
docs/contracts.md, TTL expiry, long-poll wake-ups, clean SIGTERM, and a watcher that keeps
its last snapshot after the process is SIGKILLed."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
import requests

from gatemesh.discovery import SnapshotWatcher
from gatemesh.security.credentials import CREDENTIALS_FILE, bearer, ensure

pytestmark = [pytest.mark.integration, pytest.mark.discovery]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlPlaneProcess:
    """The real process with the run's credentials (a fresh file unless ``credentials`` names
    one); ``admin`` is the header its admin token goes in."""

    def __init__(self, *extra: str, credentials: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self._dir = tempfile.TemporaryDirectory(prefix="cp-creds-")
        self.credentials_path = Path(credentials or Path(self._dir.name) / CREDENTIALS_FILE)
        self.credentials = ensure(self.credentials_path)
        self.admin = bearer(self.credentials.admin_token)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mesh.controlplane",
                "--port",
                str(self.port),
                "--credentials",
                str(self.credentials_path),
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30  # a loaded CI machine can take a while to import aiohttp
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr()
            try:
                if requests.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        stderr = self.stderr()
        self.close()
        raise AssertionError(f"control plane did not become healthy: {stderr}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def instance(self, service: str, instance: str) -> dict[str, str]:
        """The header an instance's own bootstrap token goes in."""
        return bearer(self.credentials.instance_token(service, instance))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.log.close()
        self._dir.cleanup()


@pytest.fixture(scope="module")
def cp():
    proc = ControlPlaneProcess("--sweep-interval-s", "0.05")
    yield proc
    proc.close()


def put(cp, path, body=None, data=None):
    return requests.put(cp.url + path, json=body, data=data, headers=cp.admin, timeout=5)


def delete(cp, path):
    return requests.delete(cp.url + path, headers=cp.admin, timeout=5)


def get(cp, path):
    return requests.get(cp.url + path, timeout=15)


def index_of(cp) -> int:
    return int(get(cp, "/health").headers["X-Gatemesh-Index"])


# -- command line -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [[], ["--port", "0"], ["--port", "http"], ["--port", "1", "--sweep-interval-s", "0"], ["--port", "1", "--bogus"]],
)
def test_bad_arguments_print_one_line_and_exit_2(args):
    done = subprocess.run(
        [sys.executable, "-m", "mesh.controlplane", *args], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("controlplane: error: "), done.stderr


def test_port_in_use_prints_one_line_and_exits_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mesh.controlplane", "--port", str(port), "--open"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_sigterm_exits_0_promptly_with_a_long_poll_parked():
    proc = ControlPlaneProcess()
    try:

        async def park():
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{proc.url}/v1/snapshot?index=1&wait_s=60") as resp:
                    return resp.status

        async def main():
            task = asyncio.create_task(park())
            await asyncio.sleep(0.3)
            t0 = time.monotonic()
            proc.proc.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(task, 5)
            return status, time.monotonic() - t0

        status, took = asyncio.run(main())
        assert status == 200 and took < 3  # released, not held for the 5 s shutdown timeout
        assert proc.proc.wait(5) == 0
    finally:
        proc.close()


# -- registry ---------------------------------------------------------------------------------
def test_health_and_index_header(cp):
    resp = get(cp, "/health")
    assert resp.status_code == 200 and resp.json()["status"] == "ok"
    assert int(resp.headers["X-Gatemesh-Index"]) >= 1


def test_register_list_heartbeat_deregister(cp):
    resp = put(
        cp,
        "/v1/services/catalog/instances/catalog-1",
        {"address": "127.0.0.1:18001", "ttl_s": 30, "meta": {"zone": "a"}},
    )
    assert resp.status_code == 200 and resp.json()["created"] is True
    listed = get(cp, "/v1/services/catalog").json()["instances"]
    assert {"id": "catalog-1", "address": "127.0.0.1:18001", "meta": {"zone": "a"}} in listed
    assert "catalog" in get(cp, "/v1/services").json()["services"]
    assert put(cp, "/v1/services/catalog/instances/catalog-1/heartbeat").status_code == 200
    assert delete(cp, "/v1/services/catalog/instances/catalog-1").status_code == 200
    assert put(cp, "/v1/services/catalog/instances/catalog-1/heartbeat").status_code == 404
    assert delete(cp, "/v1/services/catalog/instances/catalog-1").status_code == 404


@pytest.mark.parametrize(
    "path, kwargs, words",
    [
        ("catalog/instances/c1", {"data": b"{bad"}, "not valid JSON"),
        ("catalog/instances/c1", {"data": b""}, "body is empty"),
        ("catalog/instances/c1", {"body": [1]}, "must be a JSON object"),
        ("catalog/instances/c1", {"body": {}}, "address is missing"),
        ("catalog/instances/c1", {"body": {"address": "127.0.0.1"}}, "expected 'host:port'"),
        ("catalog/instances/c1", {"body": {"address": "127.0.0.1:70000"}}, "between 1 and 65535"),
        ("catalog/instances/c1", {"body": {"address": "h:1", "ttl_s": 0}}, "ttl_s must be"),  # 400 before the rules
        ("catalog/instances/c1", {"body": {"address": "h:1", "ttl_s": 301}}, "ttl_s must be"),
        ("catalog/instances/c1", {"body": {"address": "h:1", "meta": {"w": 1}}}, "must be strings"),
        ("catalog/instances/c1", {"body": {"address": "h:1", "ttl": 3}}, "unknown field(s) ttl"),
        ("Catalog/instances/c1", {"body": {"address": "h:1"}}, "service id 'Catalog' is invalid"),
        ("catalog/instances/_c1", {"body": {"address": "h:1"}}, "instance id '_c1' is invalid"),
    ],
)
def test_bad_registrations_answer_400_with_a_sentence(cp, path, kwargs, words):
    resp = put(cp, "/v1/services/" + path, kwargs.get("body"), kwargs.get("data"))
    assert resp.status_code == 400
    assert words in resp.json()["error"]


def test_unknown_service_and_path_answer_404_json(cp):
    resp = get(cp, "/v1/services/never-registered")
    assert resp.status_code == 404 and "unknown" in resp.json()["error"]
    assert get(cp, "/nope").json()["error"]
    assert requests.post(cp.url + "/v1/services", timeout=5).status_code == 405


def test_instance_expires_when_its_ttl_lapses(cp):
    put(cp, "/v1/services/reviews/instances/reviews-1", {"address": "127.0.0.1:18010", "ttl_s": 0.3})
    since = get(cp, "/v1/events").json()["seq"] - 1
    deadline = time.monotonic() + 3
    while get(cp, "/v1/services/reviews").json()["instances"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(cp, "/v1/services/reviews").json()["instances"] == []
    expired = [e for e in get(cp, f"/v1/events?since={since}").json()["events"] if e["kind"] == "expired"]
    assert [(e["service"], e["instance"]) for e in expired] == [("reviews", "reviews-1")]
    assert "ttl" in expired[0]["cause"]


# -- snapshot long-poll --------------------------------------------------------------------
def test_snapshot_returns_at_once_when_behind_and_times_out_when_current(cp):
    resp = get(cp, "/v1/snapshot?index=0")
    body = resp.json()
    assert set(body) == {"index", "services", "policies", "apimgmt", "authz"}  # authz: issue 15
    assert int(resp.headers["X-Gatemesh-Index"]) == body["index"]
    t0 = time.monotonic()
    again = get(cp, f"/v1/snapshot?index={body['index']}&wait_s=0.3")
    assert 0.25 < time.monotonic() - t0 < 2 and again.json()["index"] == body["index"]
    assert get(cp, "/v1/snapshot?index=-1").status_code == 400
    assert get(cp, "/v1/snapshot?wait_s=soon").status_code == 400


def test_watches_wake_within_1s_of_a_registration(cp):
    async def main():
        index = index_of(cp)
        async with aiohttp.ClientSession() as http:

            async def watch():
                async with http.get(f"{cp.url}/v1/snapshot?index={index}&wait_s=30") as resp:
                    return time.monotonic(), await resp.json()

            watchers = [asyncio.create_task(watch()) for _ in range(20)]
            await asyncio.sleep(0.3)
            assert not any(w.done() for w in watchers)
            t0 = time.monotonic()
            async with http.put(
                f"{cp.url}/v1/services/pricing/instances/pricing-1",
                json={"address": "127.0.0.1:18020", "ttl_s": 30},
                headers=cp.admin,
            ) as resp:
                assert resp.status == 200
            results = await asyncio.wait_for(asyncio.gather(*watchers), 5)
        for woke, body in results:
            assert woke - t0 < 1.0
            assert body["index"] > index
            assert body["services"]["pricing"][0]["id"] == "pricing-1"

    asyncio.run(main())


# -- policies, API management, events, metrics -----------------------------------------------
def test_policies_put_get_list_delete(cp):
    assert get(cp, "/v1/policies/inventory").status_code == 404
    before = index_of(cp)
    assert put(cp, "/v1/policies/inventory", {}).json() == {}
    assert get(cp, "/v1/policies/inventory").json() == {}
    assert get(cp, "/v1/policies").json()["policies"]["inventory"] == {}
    assert get(cp, "/v1/snapshot?index=0").json()["policies"]["inventory"] == {}
    assert index_of(cp) == before + 1
    assert put(cp, "/v1/policies/inventory", [1]).status_code == 400
    assert put(cp, "/v1/policies/Inventory", {}).status_code == 400
    assert delete(cp, "/v1/policies/inventory").status_code == 200
    assert get(cp, "/v1/policies/inventory").status_code == 404
    kinds = [e["kind"] for e in get(cp, "/v1/events").json()["events"] if e["service"] == "inventory"]
    assert kinds == ["policy-changed", "policy-changed"]


def test_policies_are_validated_by_gatemesh_policy(cp):
    pytest.importorskip("gatemesh.policy")
    ok = put(cp, "/v1/policies/*", {"retry": {"max_attempts": 2}})
    assert ok.status_code == 200 and get(cp, "/v1/policies/*").json() == {"retry": {"max_attempts": 2}}
    bad = put(cp, "/v1/policies/pricing", {"timeout": {"attempt_timeout_s": "soon"}})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("invalid policy: timeout.attempt_timeout_s")
    assert get(cp, "/v1/policies/pricing").status_code == 404


def test_apimgmt_put_normalizes_and_refuses_bad_config(cp):
    resp = put(cp, "/v1/apimgmt", {"keys": {"demo-key": {"routes": ["*"]}}})
    assert resp.status_code == 200
    assert resp.json()["rate_limit"] == {"enabled": True, "rate_per_s": 100.0, "burst": 200}
    assert requests.get(cp.url + "/v1/apimgmt", headers=cp.admin, timeout=5).json() == resp.json()
    bad = put(cp, "/v1/apimgmt", {"rate_limit": {"burst": -1}})
    assert bad.status_code == 400 and "burst" in bad.json()["error"]
    snap = requests.get(cp.url + "/v1/snapshot?index=0", headers=cp.admin, timeout=5).json()
    assert snap["apimgmt"]["keys"] == {"demo-key": {"routes": ["*"]}}


def test_events_since_filters_and_rejects_bad_since(cp):
    last = get(cp, "/v1/events").json()["seq"]
    put(cp, "/v1/services/orders/instances/orders-1", {"address": "127.0.0.1:18030", "ttl_s": 30})
    events = get(cp, f"/v1/events?since={last}").json()["events"]
    assert [(e["kind"], e["instance"]) for e in events] == [("registered", "orders-1")]
    assert get(cp, "/v1/events?since=x").status_code == 400


def test_metrics_are_prometheus_text(cp):
    resp = get(cp, "/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert "gatemesh_controlplane_index " in resp.text
    assert 'gatemesh_controlplane_events_total{kind="registered"}' in resp.text


# -- losing the control plane -------------------------------------------------------------------
def test_watcher_keeps_last_snapshot_after_sigkill():
    proc = ControlPlaneProcess()
    try:
        put(proc, "/v1/services/catalog/instances/catalog-1", {"address": "127.0.0.1:18001", "ttl_s": 30})
        put(proc, "/v1/policies/catalog", {})

        async def main():
            watcher = SnapshotWatcher(proc.url, wait_s=5, retry_s=0.05)
            await watcher.start()
            try:
                assert await watcher.wait_ready(5)
                before = watcher.snapshot
                os.kill(proc.proc.pid, signal.SIGKILL)
                proc.proc.wait(5)
                deadline = time.monotonic() + 5
                while watcher.connected and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert not watcher.connected
                await asyncio.sleep(0.3)  # a few failed reconnects later
                assert watcher.snapshot is before
                assert [e.id for e in watcher.endpoints("catalog")] == ["catalog-1"]
                assert "catalog" in watcher.snapshot.policies
            finally:
                await watcher.stop()

        asyncio.run(main())
    finally:
        proc.close()


def test_policies_survive_a_restart_and_watches_wait_out_the_warmup(tmp_path):
    """Hard state (policies) is kept in the state file; after a restart, snapshot watches
    get 503 for --warmup-s so proxies keep their last endpoints while instances re-register."""
    import requests as rq

    state = tmp_path / "cp-state.json"

    def start():
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mesh.controlplane",
                "--port",
                str(port),
                "--state-file",
                str(state),
                "--warmup-s",
                "1.5",
                "--open",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if rq.get(url + "/health", timeout=0.5).status_code == 200:
                    return proc, url
            except rq.RequestException:
                time.sleep(0.05)
        proc.kill()
        raise AssertionError("control plane did not start")

    proc, url = start()
    try:
        assert rq.get(url + "/v1/snapshot", timeout=2).status_code == 200  # first start: no warm-up
        assert rq.put(url + "/v1/policies/catalog", json={"breaker": {"enabled": False}}, timeout=2).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
    proc, url = start()
    try:
        warming = rq.get(url + "/v1/snapshot", timeout=2)
        assert warming.status_code == 503 and "warming up" in warming.json()["error"]
        assert rq.get(url + "/v1/policies/catalog", timeout=2).json() == {"breaker": {"enabled": False}}
        deadline = time.monotonic() + 10
        while rq.get(url + "/v1/snapshot", timeout=2).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rq.get(url + "/v1/snapshot", timeout=2).json()["policies"]["catalog"] == {"breaker": {"enabled": False}}
    finally:
        proc.terminate()
        proc.wait(10)


def test_registrations_survive_a_sigkill_and_are_served_before_anyone_re_registers(tmp_path):
    """Issue 12, item 1: a restarted control plane never hands out an empty registry."""
    state = str(tmp_path / "cp-state.json")
    creds = str(tmp_path / CREDENTIALS_FILE)
    proc = ControlPlaneProcess("--state-file", state, credentials=creds)
    try:
        put(proc, "/v1/services/orders/instances/orders-1", {"address": "127.0.0.1:18001", "ttl_s": 5})
    finally:
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.close()
    again = ControlPlaneProcess("--state-file", state, credentials=creds)  # no warm-up: the file is the registry
    try:
        snap = requests.get(f"{again.url}/v1/snapshot?wait_s=0", timeout=2).json()
        assert [i["id"] for i in snap["services"]["orders"]] == ["orders-1"]
        hb = requests.put(
            f"{again.url}/v1/services/orders/instances/orders-1/heartbeat",
            headers=again.instance("orders", "orders-1"),
            timeout=2,
        )
        assert hb.status_code == 200  # the instance's heartbeats just go on
    finally:
        again.close()
