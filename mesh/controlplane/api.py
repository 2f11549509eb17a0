"""The control plane's HTTP API (docs/contracts.md, "Control plane API").

Every answer is JSON; refusals are ``{"error": "<sentence>"}`` with 400 (bad input) or
404 (unknown service / instance / policy). Every response carries ``X-Gatemesh-Index``.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gatemesh.apimgmt import ApiMgmtConfig
from gatemesh.security.authz import AuthzPolicy
from gatemesh.security.ca import CertificateAuthority
from gatemesh.security.jwt import ALGORITHMS, DEFAULT_AUDIENCE, Issuer
from mesh.controlplane import openapi as openapi_document
from mesh.controlplane.admission import AddressRules
from mesh.controlplane.auth import CREDENTIALS
from mesh.controlplane.metrics import Metrics
from mesh.controlplane.registry import DEFAULT_TTL_S, check_id, check_meta, check_ttl_s, parse_address
from mesh.controlplane.store import Store

INDEX_HEADER = "X-Gatemesh-Index"
DEFAULT_WAIT_S = 10.0  # long-poll wait when the client does not say
MAX_WAIT_S = 60.0  # longer waits are capped
REGISTER_FIELDS = {"address", "ttl_s", "meta"}

HEARTBEAT_FIELDS = {"address"}

STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
RULES = web.AppKey("address-rules", AddressRules)
ISSUER = web.AppKey("jwt-issuer", Issuer)
CA = web.AppKey("ca", CertificateAuthority)
REDACTED = web.AppKey("redacted-snapshot", list)  # [index, body]: the last redacted snapshot
TOKEN_FIELDS = {"sub", "audience", "ttl_s", "alg"}
MAX_TOKEN_TTL_S = 86400.0  # a demo token lives a day at most


class BadRequest(ValueError):
    """Input the client must fix; answered with 400 and the sentence."""


def error(status: int, sentence: str) -> web.Response:
    return web.json_response({"error": sentence}, status=status)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("request body is empty: send a JSON object.")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}.")
    return body


def query_number(request: web.Request, name: str, default: float, integer: bool = False) -> float:
    given = request.query.getall(name, [])
    if len(given) > 1:  # which one would we take? the client must say
        raise BadRequest(f"query parameter {name} was given {len(given)} times; give it once.")
    if not given:
        return default
    text = given[0]
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise BadRequest(f"query parameter {name}={text!r} must be {kind} >= 0.") from None
    if value < 0 or not math.isfinite(value):
        raise BadRequest(f"query parameter {name}={text!r} must be >= 0.")
    return value


# -- registry ------------------------------------------------------------------------
async def register(request: web.Request) -> web.Response:
    store = request.app[STORE]
    service = check_id(request.match_info["service"], "service")
    instance = check_id(request.match_info["instance"], "instance")
    body = await read_json_object(request)
    unknown = sorted(set(body) - REGISTER_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; a registration has address, ttl_s and meta.")
    if "address" not in body:
        raise BadRequest('address is missing: send {"address": "host:port"}.')
    address = body["address"]
    parse_address(address)
    ttl_s = check_ttl_s(body.get("ttl_s", DEFAULT_TTL_S))
    meta = check_meta(body.get("meta", {}))  # null is not an object: refused, not read as {}
    admit(request, address)  # well-formed first (400), then allowed (403)
    created = store.register(service, instance, address, ttl_s, meta)
    return web.json_response(
        {
            "service": service,
            "instance": instance,
            "address": address,
            "ttl_s": ttl_s,
            "meta": dict(meta),
            "created": created,
            "index": store.index,
        }
    )


def admit(request: web.Request, address: Any) -> None:
    """A well-formed address the topology's rules admit (AddressRefused names the rule: 403)."""
    parse_address(address)
    request.app[RULES].check(address)


async def heartbeat(request: web.Request) -> web.Response:
    """Renew the TTL; a body ``{"address": ...}`` also corrects a registration that drifted
    (an overwrite, a stale state file): the instance's own word about where it listens."""
    store = request.app[STORE]
    service, instance = request.match_info["service"], request.match_info["instance"]
    address = None
    if (await request.read()).strip():
        body = await read_json_object(request)
        unknown = sorted(set(body) - HEARTBEAT_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(unknown)}; a heartbeat may carry only address.")
        address = body.get("address")
        if address is not None:
            admit(request, address)
    if not store.heartbeat(service, instance, address):
        return error(404, f"instance {instance!r} of service {service!r} is not registered: register it again.")
    return web.json_response(
        {"service": service, "instance": instance, "expires_in_s": store.registry.remaining_s(service, instance)}
    )


async def deregister(request: web.Request) -> web.Response:
    store = request.app[STORE]
    service, instance = request.match_info["service"], request.match_info["instance"]
    if not store.deregister(service, instance):
        return error(404, f"instance {instance!r} of service {service!r} is not registered.")
    return web.json_response({"service": service, "instance": instance, "deregistered": True, "index": store.index})


async def list_services(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return web.json_response({"index": store.index, "services": store.services()})


async def get_service(request: web.Request) -> web.Response:
    store = request.app[STORE]
    service = request.match_info["service"]
    instances = store.registry.instances(service)
    if instances is None:
        return error(404, f"service {service!r} is unknown: no instance of it ever registered.")
    return web.json_response({"index": store.index, "service": service, "instances": [i.to_dict() for i in instances]})


# -- snapshot long-poll ----------------------------------------------------------------
async def snapshot(request: web.Request) -> web.Response:
    store = request.app[STORE]
    if asyncio.get_running_loop().time() < store.warm_until:
        # Just restarted: the registry is still refilling from heartbeats. Refusing the
        # watch keeps every proxy on its last known endpoints until it is whole again.
        return error(503, "the control plane is warming up after a restart; keep your last snapshot and retry")
    index = query_number(request, "index", 0, integer=True)
    wait_s = min(query_number(request, "wait_s", DEFAULT_WAIT_S), store.max_wait_s)
    await store.wait_for_change(int(index), wait_s)
    current, body = store.snapshot_body()
    if request.app.get(CREDENTIALS) is not None and "identity" not in request:
        current, body = redacted_snapshot(request.app, store)  # no credential: no API keys
    return web.Response(body=body, content_type="application/json", headers={INDEX_HEADER: str(current)})


# What a reader without a credential sees instead of the API keys: not a config, so an exposed sidecar
# that watched without its token would refuse it (apimgmt-rejected) and keep its last keys, never fail open.
REDACTED_APIMGMT = {"redacted": "the API keys are shown only to a credential: the admin token, or an instance's"}


def redacted_snapshot(app: web.Application, store: Store) -> tuple[int, bytes]:
    """(index, body) of the snapshot with its apimgmt section redacted, encoded once per index."""
    cached = app[REDACTED]
    if cached[0] != store.index:
        snap = store.snapshot()
        snap["apimgmt"] = REDACTED_APIMGMT if snap.get("apimgmt") else {}
        cached[:] = [store.index, json.dumps(snap).encode()]
    return cached[0], cached[1]


# -- policies and API management ----------------------------------------------------------
def validate_policy(policy: dict) -> None:
    """Check the policy with gatemesh.policy when that module exists; else accept it as-is."""
    try:
        from gatemesh.policy import Policy
    except ModuleNotFoundError as exc:
        if exc.name not in ("gatemesh.policy", "gatemesh"):
            raise
        return
    try:
        Policy.from_dict(policy)
    except (ValueError, TypeError) as exc:  # PolicyError is a ValueError
        raise BadRequest(f"invalid policy: {exc}") from None


def policy_service(request: web.Request) -> str:
    service = request.match_info["service"]
    return service if service == "*" else check_id(service, "service")


async def list_policies(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return web.json_response({"index": store.index, "policies": store.policies})


async def get_policy(request: web.Request) -> web.Response:
    store = request.app[STORE]
    service = request.match_info["service"]
    if service not in store.policies:
        return error(404, f"no policy is set for service {service!r}: the defaults of gatemesh.policy apply.")
    return web.json_response(store.policies[service])


async def put_policy(request: web.Request) -> web.Response:
    store = request.app[STORE]
    service = policy_service(request)
    policy = await read_json_object(request)
    validate_policy(policy)
    store.set_policy(service, policy)
    return web.json_response(policy)


async def delete_policy(request: web.Request) -> web.Response:
    store = request.app[STORE]
    service = request.match_info["service"]
    if not store.delete_policy(service):
        return error(404, f"no policy is set for service {service!r}.")
    return web.json_response({"service": service, "deleted": True, "index": store.index})


async def get_apimgmt(request: web.Request) -> web.Response:
    return web.json_response(request.app[STORE].apimgmt)


async def put_apimgmt(request: web.Request) -> web.Response:
    store = request.app[STORE]
    body = await read_json_object(request)
    try:
        config = ApiMgmtConfig.from_dict(body).to_dict()
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    store.set_apimgmt(config)
    return web.json_response(config)


async def get_authz(request: web.Request) -> web.Response:
    return web.json_response(request.app[STORE].authz or AuthzPolicy().to_dict())


async def put_authz(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    try:
        config = AuthzPolicy.from_dict(body).to_dict()
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    request.app[STORE].set_authz(config)
    return web.json_response(config)


# -- JWT: the keys the gateway checks bearer tokens with, and demo tokens for the admin ------
async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[ISSUER].jwks())


async def mint_token(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    unknown = sorted(set(body) - TOKEN_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; a token request has sub, audience, ttl_s and alg.")
    sub, audience = body.get("sub"), body.get("audience", DEFAULT_AUDIENCE)
    ttl_s, alg = body.get("ttl_s", 300), body.get("alg", "ES256")
    if not isinstance(sub, str) or not sub:
        raise BadRequest('sub is missing: send {"sub": "<who the token speaks for>"}.')
    if not isinstance(audience, str) or not audience:
        raise BadRequest("audience must be a non-empty string.")
    if isinstance(ttl_s, float) and ttl_s.is_integer():  # JSON's 60.0 is 60
        ttl_s = int(ttl_s)
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 1 <= ttl_s <= MAX_TOKEN_TTL_S:
        raise BadRequest(f"ttl_s must be whole seconds from 1 to {MAX_TOKEN_TTL_S:g}, got {ttl_s!r}.")
    if alg not in ALGORITHMS:
        raise BadRequest(f"alg must be one of {', '.join(ALGORITHMS)}, got {alg!r}.")
    token = request.app[ISSUER].mint(sub, audience, float(ttl_s), alg)
    return web.json_response({"token": token, "expires_in_s": int(ttl_s)})


# -- workload identity: the CA signs a leaf for whoever the bearer token proves ------------
async def issue_certificate(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    unknown = sorted(set(body) - {"csr", "service"})
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; a certificate request has csr (and service).")
    if not isinstance(body.get("csr"), str):
        raise BadRequest('csr is missing: send {"csr": "<PEM certificate signing request>"}.')
    who = request.get("identity", "admin")
    if who == "admin":  # the admin (or an --open control plane) names the service; an instance cannot
        service = check_id(body.get("service"), "service")
    else:
        service = who.split("/", 1)[0]
        if body.get("service") not in (None, service):
            raise BadRequest(f"{who} may get a certificate only for its own service {service!r}.")
    ca = request.app[CA]
    certificate, lifetime_s = ca.sign(body["csr"], service)
    return web.json_response({"certificate": certificate, "bundle": ca.bundle(), "lifetime_s": lifetime_s})


async def trust_bundle(request: web.Request) -> web.Response:
    ca = request.app[CA]
    return web.json_response({"bundle": ca.bundle(), "roots": len(ca.roots)})


async def rotate_root(request: web.Request) -> web.Response:
    ca = request.app[CA]
    signs_in_s = ca.rotate()
    return web.json_response({"roots": len(ca.roots), "signs_in_s": signs_in_s})


async def retire_roots(request: web.Request) -> web.Response:
    ca = request.app[CA]
    return web.json_response({"retired": ca.retire(), "roots": len(ca.roots)})


# -- events, health, metrics --------------------------------------------------------------
async def events(request: web.Request) -> web.Response:
    store = request.app[STORE]
    since = int(query_number(request, "since", 0, integer=True))
    return web.json_response({"seq": store.last_seq, "events": store.events_since(since)})


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return web.json_response(
        {
            "status": "ok",
            "component": "controlplane",
            "index": store.index,
            "services": len(store.registry.service_names()),
        }
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document.document())


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
