"""The dashboard's trace view in a real Chromium: a call retried at the gateway (a
`reset_peer` toxic on catalog-1) opened at /trace/<its X-Gatemesh-Trace-Id> shows, under
the gateway's server span, attempt #1 to catalog-1 failed with the reset's reason and
attempt #2 ok. Control: an unknown and a malformed id are one sentence and a 404 / 400.
"""

from __future__ import annotations

import time

import pytest
import requests

from pagelib import snap, wait_until

pytestmark = pytest.mark.timeout(300)
MAX_TRIES = 12  # calls until round robin sends one to catalog-1 first
RESET_REASONS = ("upstream-reset", "connect-failed")  # the latter with mTLS (tests/chaos/chaoslib.py)
TRACE_WAIT_S = 20.0  # spans reach Jaeger ~1 s after the call; bound for a loaded machine


def post(dashboard: str, path: str, body: dict) -> dict:
    r = requests.post(dashboard + path, json=body, timeout=90)
    assert r.status_code == 200, r.text
    return r.json()


def retried_call(status: dict) -> requests.Response:
    """A catalog call through the gateway that took two attempts (the first to catalog-1)."""
    headers = {"X-Api-Key": status["api_key"]} if status.get("api_key") else {}
    for _ in range(MAX_TRIES):
        r = requests.get(f"{status['gateway'].rstrip('/')}/api/catalog/1", headers=headers, timeout=10)
        if (r.headers.get("X-Gatemesh-Attempts") or "").startswith("gateway=2"):
            return r
    raise AssertionError(f"no call in {MAX_TRIES} was retried at the gateway")


def test_a_retried_call_shows_two_attempt_rows_under_the_gateway_span(page, dashboard_run):
    dashboard = dashboard_run["dashboard"].rstrip("/")
    post(dashboard, "/api/reset", {})
    try:
        post(dashboard, "/api/faults", {"target": "catalog-1", "kind": "reset_peer", "params": {}})
        r = retried_call(dashboard_run)
        assert r.status_code == 200, r.text
        trace_id = r.headers["X-Gatemesh-Trace-Id"]

        def exported() -> bool:  # both gateway attempts and the chain below #2 are in Jaeger
            rows = requests.get(f"{dashboard}/api/trace/{trace_id}", timeout=10).json().get("rows") or []
            tries = [x for x in rows if x["service"] == "gateway" and x["attempt"] is not None]
            return len(tries) == 2 and any(x["service"] == "catalog" for x in rows)

        wait_until(exported, TRACE_WAIT_S, f"trace {trace_id} complete in Jaeger")
        page.goto(f"{dashboard}/trace/{trace_id}")
        page.wait_for_selector("#waterfall tbody tr")
        rows = page.eval_on_selector_all(
            "#waterfall tbody tr",
            "els => els.map(e => ({...e.dataset, text: e.innerText}))",
        )
        (server,) = [x for x in rows if x["service"] == "gateway" and "attempt" not in x]
        tries = [x for x in rows if x["service"] == "gateway" and "attempt" in x]
        assert [x["attempt"] for x in tries] == ["1", "2"], rows
        first, second = tries
        assert all(int(x["depth"]) == int(server["depth"]) + 1 for x in tries)  # under the server span
        assert rows.index(server) < rows.index(first) < rows.index(second)
        assert first["outcome"] == "error" and first["reason"] in RESET_REASONS, first
        assert "catalog-1" in first["text"] and first["reason"] in first["text"]
        assert second["outcome"] == "ok" and "catalog-1" not in second["text"], second
        assert "OK" in second["text"]
        snap(page, "trace_view_retry")
    finally:
        post(dashboard, "/api/reset", {})


@pytest.mark.parametrize(
    ("trace_id", "status", "says"),
    [("0123456789abcdef0123456789abcdef", 404, "has no trace"), ("not-a-trace", 400, "32 hex digits")],
    ids=["unknown", "malformed"],
)
def test_control_an_unknown_or_malformed_id_is_one_sentence_and_a_status(dashboard_run, trace_id, status, says):
    dashboard = dashboard_run["dashboard"].rstrip("/")
    for path in (f"/trace/{trace_id}", f"/api/trace/{trace_id}"):
        r = requests.get(dashboard + path, timeout=10)
        assert r.status_code == status, (path, r.text)
        assert says in r.text and "Traceback" not in r.text


def test_the_main_page_links_the_last_traces(page, dashboard_run):
    headers = {"X-Api-Key": dashboard_run["api_key"]} if dashboard_run.get("api_key") else {}
    r = requests.get(f"{dashboard_run['gateway'].rstrip('/')}/api/catalog/1", headers=headers, timeout=10)
    trace_id = r.headers["X-Gatemesh-Trace-Id"]
    t0 = time.monotonic()
    page.wait_for_selector(f'#traces a[href="/trace/{trace_id}"]', timeout=TRACE_WAIT_S * 1000)
    page.click(f'#traces a[href="/trace/{trace_id}"]')
    page.wait_for_selector("#waterfall tbody tr")
    assert trace_id in page.inner_text("h1")
    print(f"the call was listed and opened after {time.monotonic() - t0:.1f} s")
