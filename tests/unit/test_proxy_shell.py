"""gatemesh.shell, admin and proxy on a fake clock and a fake pool: admin paths are
answered before any routing, requests in flight are counted, health says why it is not
ready, the API-key guard speaks from one message table, and forwarding adds this hop's
headers. No sockets: the integration tests cover the listeners."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from types import SimpleNamespace

from gatemesh.admin import Admin, is_admin_path
from gatemesh.apimgmt import ApiManager, ApiMgmtConfig
from gatemesh.clock import FakeClock
from gatemesh.http.messages import Request, Response
from gatemesh.patterns.breaker import BreakerConfig, BreakerState
from gatemesh.policy import all_off
from gatemesh.proxy import Proxy
from gatemesh.reasons import Reason
from gatemesh.shell import API_MESSAGES, Shell

from fakepool import Slow, caller_with


def request(target: bytes, method: bytes = b"GET", headers=(), body: bytes = b"") -> Request:
    return Request(method, target, [(b"host", b"svc"), *headers], body, peer="192.0.2.9")


def shell_for(caller, *, snapshot=True, readiness=None, writable=True):
    watcher = SimpleNamespace(snapshot=SimpleNamespace(index=7) if snapshot else None, connected=snapshot)
    admin = Admin("test", caller, policies_writable=writable)
    return Shell(admin, watcher, fields=lambda: {"instance": "i1"}, readiness=readiness)  # type: ignore[arg-type]


def run(coro):
    return asyncio.run(coro)


def reason_of(resp: Response) -> bytes | None:
    return next((v for n, v in resp.headers if n == b"x-gatemesh-reason"), None)


def test_admin_paths_are_told_apart_by_a_plain_check():
    assert all(map(is_admin_path, (b"/health", b"/metrics", b"/-/events", b"/-/reset")))
    assert not any(map(is_admin_path, (b"/healthz", b"/api/catalog", b"/metrics/x", b"/-")))


def test_an_admin_path_is_answered_and_never_routed():
    caller, pool, _ = caller_with(all_off())
    shell = shell_for(caller)
    routed: list[bytes] = []
    handle = shell.handler(Proxy("test", caller), lambda req: routed.append(req.path) or ("svc", req.target))
    assert run(handle(request(b"/-/upstreams"))).status == 200
    assert run(handle(request(b"/-/nope"))).status == 404
    assert routed == [] and pool.sent == []
    assert run(handle(request(b"/products/1"))).status == 200 and routed == [b"/products/1"]


def test_a_public_listener_answers_the_admin_api_404_and_the_admin_listener_nothing_else():
    caller, pool, _ = caller_with(all_off())
    shell = shell_for(caller)
    routed: list[bytes] = []
    public = shell.handler(
        Proxy("test", caller), lambda req: routed.append(req.path) or ("svc", req.target), admin_api=False
    )
    admin = shell.admin_handler()
    for path, method in ((b"/-/policies", b"GET"), (b"/-/policies/svc", b"PUT"), (b"/-/reset", b"POST")):
        hidden = run(public(request(path, method, body=b'{"retry": {"enabled": true}}')))
        assert (hidden.status, reason_of(hidden)) == (404, b"no-route"), path
    assert caller.policies.get("svc").retry.enabled is False  # the PUT changed nothing
    assert run(public(request(b"/health"))).status == 200 and run(public(request(b"/metrics"))).status == 200
    assert run(admin(request(b"/-/upstreams"))).status == 200 and run(admin(request(b"/metrics"))).status == 200
    assert run(admin(request(b"/health"))).status == 200
    not_routed = run(admin(request(b"/products/1")))
    assert (not_routed.status, reason_of(not_routed)) == (404, b"no-route")
    assert routed == [] and pool.sent == []
    assert run(public(request(b"/products/1"))).status == 200 and routed == [b"/products/1"]


def test_the_shell_names_the_tracers_admin_path_as_the_tracer_does():
    from gatemesh import shell
    from gatemesh.tracing import tracer

    assert shell.TRACING_PATH == tracer.TRACING_PATH


def test_requests_in_flight_are_counted_while_they_wait_upstream():
    caller, pool, _ = caller_with(all_off())
    pool.default = Slow(0.5)
    shell = shell_for(caller)
    handle = shell.handler(Proxy("test", caller), shell.by_host)
    seen: list[int] = []

    async def go():
        task = asyncio.ensure_future(handle(request(b"/x")))
        await asyncio.sleep(0)
        seen.append(shell.in_flight)
        await task
        seen.append(shell.in_flight)

    run(go())
    assert seen == [1, 0]


def test_a_request_without_a_host_is_a_bad_request_by_host():
    caller, _, _ = caller_with(all_off())
    shell = shell_for(caller)
    resp = shell.by_host(Request(b"GET", b"/x", [], b""))
    assert isinstance(resp, Response) and resp.status == 400 and reason_of(resp) == b"bad-request"


def test_health_is_ready_only_with_a_catalog_and_a_healthy_app():
    caller, _, _ = caller_with(all_off())
    assert run(shell_for(caller, snapshot=False).health()).status == 503

    async def sick() -> str | None:
        return "its app answered 500"

    resp = run(shell_for(caller, readiness=sick).health())
    assert resp.status == 503 and b"its app answered 500" in resp.body and reason_of(resp) == b"no-healthy-upstream"
    ok = run(shell_for(caller).health())
    assert ok.status == 200
    assert json.loads(ok.body) == {
        "status": "ok",
        "proxy": "test",
        "instance": "i1",
        "discovery": "connected",
        "snapshot_index": 7,
    }


def test_the_api_key_guard_speaks_from_one_message_table():
    caller, _, _ = caller_with(all_off())
    shell = shell_for(caller)
    api = ApiManager(ApiMgmtConfig.from_dict({"keys": {"k1": {"routes": ["catalog"]}}}), FakeClock())
    missing = shell.api_refusal(api, request(b"/x"), "catalog")
    assert missing.status == 401 and json.loads(missing.body)["error"] == API_MESSAGES[Reason.MISSING_API_KEY]
    forbidden = shell.api_refusal(api, request(b"/x", headers=[(b"x-api-key", b"k1")]), "orders")
    assert forbidden.status == 403 and "'orders'" in json.loads(forbidden.body)["error"]
    assert shell.api_refusal(api, request(b"/x", headers=[(b"x-api-key", b"k1")]), "catalog") is None


def test_reset_clears_an_open_breaker_and_answers_only_post():
    caller, pool, _ = caller_with(dataclasses.replace(all_off(), breaker=BreakerConfig(consecutive_failures=1)))
    up = caller.upstream("svc")
    up.breaker.on_failure(0.0)
    admin = Admin("test", caller, policies_writable=True)
    assert admin.answer(request(b"/-/reset")).status == 405
    resp = admin.answer(request(b"/-/reset", b"POST"))
    assert resp.status == 200 and json.loads(resp.body)["reset"] == ["svc"]
    assert caller.upstreams["svc"].breaker.state is BreakerState.CLOSED


def test_policy_admin_changes_resets_and_refuses_bad_input_with_a_sentence():
    caller, _, _ = caller_with(all_off())
    admin = Admin("test", caller, policies_writable=True)
    put = admin.answer(request(b"/-/policies/svc", b"PUT", body=b'{"retry": {"enabled": true}}'))
    assert put.status == 200 and caller.policies.get("svc").retry.enabled
    bad = admin.answer(request(b"/-/policies/svc", b"PUT", body=b'{"retry": {"max_attempts": 0}}'))
    assert bad.status == 400 and b"retry.max_attempts" in bad.body
    assert admin.answer(request(b"/-/policies/svc", b"PUT", body=b"{nope")).status == 400
    assert admin.answer(request(b"/-/policies/svc", b"DELETE")).status == 200
    assert not caller.policies.get("svc").retry.enabled
    read_only = Admin("test", caller, policies_writable=False)
    assert read_only.answer(request(b"/-/policies/svc", b"PUT", body=b"{}")).status == 405


def test_forwarding_adds_this_hop_and_a_refusal_names_its_reason():
    caller, pool, _ = caller_with(all_off(), instances=1)
    proxy = Proxy("gw", caller)
    resp = run(
        proxy.forward(
            request(b"/x", headers=[(b"x-forwarded-for", b"1.2.3.4"), (b"connection", b"x-drop"), (b"x-drop", b"1")]),
            "svc",
            b"/y",
        )
    )
    sent = pool.sent[0]
    assert sent.target == b"/y" and sent.header(b"x-forwarded-for") == b"1.2.3.4, 192.0.2.9"
    assert sent.header(b"via") == b"1.1 gw" and sent.header(b"x-drop") is None
    assert (b"x-gatemesh-attempts", b"gw=1") in resp.headers and (b"x-gatemesh-proxy", b"gw") in resp.headers
    refused = run(proxy.forward(request(b"/x"), "nope", b"/x"))
    assert refused.status == 404 and reason_of(refused) == b"unknown-service"
    bad = run(proxy.forward(request(b"/x", headers=[(b"x-gatemesh-deadline-ms", b"soon")]), "svc", b"/x"))
    assert bad.status == 400 and reason_of(bad) == b"bad-request"
