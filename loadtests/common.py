"""What every gatemesh locustfile shares: the API, response validation, the two load
models, and a per-request log.

Locust imports this through a locustfile (``locust -f loadtests/shop.py``), after it has
monkey-patched the standard library with gevent; gatemesh's own modules never import it.

**Validation.** Every request is made with ``catch_response`` and judged by what it is:

- ``ok``: the answer the client wanted;
- ``degraded``: a product page that arrived without an optional part (inventory,
  reviews). Locust counts it as a success under its own name (``... [degraded]``), so
  the stats table shows how many pages were complete and how many were not;
- ``fail``: anything else, with a reason: the proxy's ``X-Gatemesh-Reason``
  (``circuit-open``, ``timeout``, ...), the failed parts of a composed page
  (``pricing=circuit-open``), ``http-503``, or the client's own ``client-timeout``.

**Load models.** By default a user is a closed loop (Locust's usual model): it sends a
request, waits for the answer, waits ``wait_time``, and sends the next. With
``--arrival-rate R`` it is an open loop instead: requests *arrive* at R per second in
total (R / users each), whether or not earlier ones were answered, at most
``--max-in-flight`` at once per user (an arrival beyond that is dropped and counted as a
``client-overloaded`` failure), and latency is measured from the moment a request was
due. That is how a real crowd behaves, and it avoids coordinated omission: a closed loop
that waits on a stalled server stops sending, so the stall hardly shows in its samples.

**Bounds.** Every run is bounded in time (Locust's ``-t``) and in count:
``--max-requests`` stops the run once that many answers were recorded.

**Request log.** ``--request-log FILE`` writes one CSV row per request (wall-clock start
and end, name, status, outcome, reason, latency): what ``gatemesh experiment`` analyses.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import gevent
import gevent.pool
from locust import FastHttpUser, between, events, task

API_KEY = os.environ.get("GATEMESH_API_KEY", "demo-key")
PRODUCT_IDS = range(1, 21)  # the catalog's products
DEFAULT_REQUEST_TIMEOUT_S = 10.0  # the client gives up after this (a failure: client-timeout)
DEFAULT_MAX_IN_FLIGHT = 200  # open loop: outstanding requests per user
DEFAULT_MAX_REQUESTS = 1_000_000  # stop after this many answers, whatever -t says
LOG_FIELDS = ("start", "end", "name", "status", "outcome", "reason", "latency_ms")

PAGE_EDGE = "/api/products/[id]"  # composed at the gateway
PAGE_MESH = "/api/storefront/[id]"  # composed by the storefront service, in the mesh
CATALOG_LIST = "/api/catalog"
CATALOG_ITEM = "/api/catalog/[id]"
ORDER = "/api/orders"


# --- command line ------------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("gatemesh")
    group.add_argument("--request-log", default="", help="write one CSV row per request to this file")
    group.add_argument(
        "--arrival-rate",
        type=float,
        default=0.0,
        help="open loop: requests per second in total (0 = closed loop, the default)",
    )
    group.add_argument(
        "--max-in-flight",
        type=int,
        default=DEFAULT_MAX_IN_FLIGHT,
        help="open loop: outstanding requests per user before arrivals are dropped",
    )
    group.add_argument(
        "--max-requests", type=int, default=DEFAULT_MAX_REQUESTS, help="stop the run after this many answers"
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help="seconds the client waits for an answer",
    )
    group.add_argument("--api-key", default=API_KEY, help="sent as X-Api-Key")


class RequestLog:
    """Appends one row per request; flushed every line so a reader can follow it."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "w", newline="", buffering=1)
        self._writer = csv.writer(self._file)
        self._writer.writerow(LOG_FIELDS)

    def write(self, row: Sequence[Any]) -> None:
        self._writer.writerow(row)

    def close(self) -> None:
        self._file.close()


_state: dict[str, Any] = {"log": None, "count": 0, "max": DEFAULT_MAX_REQUESTS, "env": None}


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    opts = environment.parsed_options
    if opts is None:
        return
    _state["env"] = environment
    _state["max"] = opts.max_requests
    GatemeshUser.network_timeout = opts.request_timeout
    GatemeshUser.connection_timeout = min(opts.request_timeout, 5.0)
    if opts.request_log:
        _state["log"] = RequestLog(opts.request_log)


@events.quitting.add_listener
def _on_quit(**_kw: Any) -> None:
    if _state["log"] is not None:
        _state["log"].close()
        _state["log"] = None


@events.request.add_listener
def _on_request(
    name: str,
    response_time: float,
    response: Any = None,
    context: dict | None = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_kw: Any,
) -> None:
    context = context or {}
    end = time.time()
    start = context.get("due", start_time if start_time is not None else end - response_time / 1000.0)
    log = _state["log"]
    if log is not None:
        status = getattr(response, "status_code", 0) or 0
        outcome = context.get("outcome") or ("fail" if exception is not None else "ok")
        reason = context.get("reason", "") if outcome != "ok" else ""
        if outcome == "fail" and not reason:
            reason = _exception_reason(exception, status)
        log.write(
            (
                f"{start:.4f}",
                f"{end:.4f}",
                context.get("route", name),
                status,
                outcome,
                reason,
                f"{(end - start) * 1000.0:.1f}",
            )
        )
    _state["count"] += 1
    if _state["count"] == _state["max"] and _state["env"] is not None and _state["env"].runner is not None:
        gevent.spawn(_state["env"].runner.quit)


def _exception_reason(exception: BaseException | None, status: int) -> str:
    if status:
        return f"http-{status}"
    text = f"{type(exception).__name__}: {exception}".lower() if exception else ""
    if "timeout" in text or "timed out" in text:
        return "client-timeout"
    if "refused" in text:
        return "connection-refused"
    return "client-error"


# --- validation ----------------------------------------------------------------------------


def _json(resp: Any) -> Any:
    try:
        return json.loads(resp.content or b"null")
    except (ValueError, TypeError):
        return None


def failure_reason(resp: Any) -> str:
    """Why a request failed, as one short string (see the module docstring)."""
    status = resp.status_code or 0
    if status == 0:
        return _exception_reason(getattr(resp, "error", None), 0)
    header = resp.headers.get("X-Gatemesh-Reason") if resp.headers else None
    body = _json(resp)
    parts = body.get("reasons") if isinstance(body, dict) else None
    if isinstance(parts, dict) and parts:
        missing = body.get("missing") or list(parts)
        detail = ",".join(f"{svc}={parts.get(svc)}" for svc in missing if svc in parts)
        if detail:
            return detail if header in (None, "upstream-error") else f"{header};{detail}"
    return header or f"http-{status}"


def judge(resp: Any, route: str, ok: Callable[[Any], bool], degraded: Callable[[Any], bool] | None = None) -> None:
    """Mark a ``catch_response`` response ok, degraded or failed, and say why."""
    ctx = resp.request_meta.setdefault("context", {})
    ctx["route"] = route
    body = _json(resp) if resp.status_code and 200 <= resp.status_code < 300 else None
    if body is not None and ok(body):
        if degraded is not None and degraded(body):
            ctx["outcome"], ctx["reason"] = "degraded", "degraded:" + ",".join(body.get("degraded") or [])
            resp.request_meta["name"] = f"{route} [degraded]"
        else:
            ctx["outcome"] = "ok"
        resp.success()
        return
    reason = failure_reason(resp) if body is None else "bad-body"
    ctx["outcome"], ctx["reason"] = "fail", reason
    resp.failure(reason)


def _is_page(body: Any) -> bool:
    return isinstance(body, dict) and body.get("product") is not None and body.get("price") is not None


def _is_degraded(body: Any) -> bool:
    return bool(body.get("degraded"))


# --- the users -----------------------------------------------------------------------------


class GatemeshUser(FastHttpUser):
    """A client of the gatemesh APIs. Subclasses list ``actions``: (method name, weight)."""

    abstract = True
    wait_time = between(0.1, 0.3)
    concurrency = DEFAULT_MAX_IN_FLIGHT  # connections the FastHttpSession may open (open loop)
    network_timeout = DEFAULT_REQUEST_TIMEOUT_S
    connection_timeout = 5.0
    actions: Sequence[tuple[str, int]] = ()

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.headers = {"X-Api-Key": opts.api_key if opts is not None else API_KEY}
        self._names = [name for name, _ in self.actions]
        self._weights = [weight for _, weight in self.actions]
        self._pool: gevent.pool.Pool | None = None

    def on_stop(self) -> None:
        if self._pool is not None:
            self._pool.kill(block=False)

    def pick(self) -> Callable[[dict], None]:
        return getattr(self, random.choices(self._names, self._weights)[0])

    @task
    def step(self) -> None:
        opts = self.environment.parsed_options
        rate = opts.arrival_rate if opts is not None else 0.0
        if rate > 0:
            self.open_loop(rate, opts.max_in_flight)
        else:
            self.pick()({})

    def open_loop(self, rate: float, max_in_flight: int) -> None:
        """Arrivals at ``rate`` / users per second until Locust stops this user."""
        users = max(1, int(self.environment.parsed_options.num_users or 1))
        interval = users / rate
        self._pool = gevent.pool.Pool(max_in_flight)
        due = time.time() + random.uniform(0, interval)  # users spread over one interval
        while True:
            gevent.sleep(max(0.0, due - time.time()))
            if self._pool.full():
                events.request.fire(
                    request_type="GET",
                    name="(dropped)",
                    response_time=0,
                    response_length=0,
                    exception=RuntimeError("client-overloaded"),
                    context={"due": due, "route": "(dropped)", "outcome": "fail", "reason": "client-overloaded"},
                )
            else:
                self._pool.spawn(self.pick(), {"due": due})
            due += interval

    # Each action takes the request context (``due`` in the open loop) and makes one request.

    def page_at_edge(self, ctx: dict) -> None:
        pid = random.choice(PRODUCT_IDS)
        with self.client.get(
            f"/api/products/{pid}", name=PAGE_EDGE, headers=self.headers, context=dict(ctx), catch_response=True
        ) as resp:
            judge(resp, PAGE_EDGE, _is_page, _is_degraded)

    def page_in_mesh(self, ctx: dict) -> None:
        pid = random.choice(PRODUCT_IDS)
        with self.client.get(
            f"/api/storefront/{pid}", name=PAGE_MESH, headers=self.headers, context=dict(ctx), catch_response=True
        ) as resp:
            judge(resp, PAGE_MESH, _is_page, _is_degraded)

    def browse(self, ctx: dict) -> None:
        with self.client.get(
            "/api/catalog", name=CATALOG_LIST, headers=self.headers, context=dict(ctx), catch_response=True
        ) as resp:
            judge(resp, CATALOG_LIST, lambda b: isinstance(b, dict) and bool(b.get("products")))

    def catalog_item(self, ctx: dict) -> None:
        pid = random.choice(PRODUCT_IDS)
        with self.client.get(
            f"/api/catalog/{pid}", name=CATALOG_ITEM, headers=self.headers, context=dict(ctx), catch_response=True
        ) as resp:
            judge(resp, CATALOG_ITEM, lambda b: isinstance(b, dict) and b.get("id") == pid)

    def order(self, ctx: dict) -> None:
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        body = {"product_id": random.choice(PRODUCT_IDS), "quantity": random.randint(1, 3)}
        with self.client.post(
            "/api/orders", name=ORDER, json=body, headers=headers, context=dict(ctx), catch_response=True
        ) as resp:
            judge(resp, ORDER, lambda b: isinstance(b, dict) and b.get("id") is not None)
