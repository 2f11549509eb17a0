"""Who may write: every PUT/POST/DELETE needs a credential the control plane knows.

- no ``Authorization: Bearer <token>`` (or an unknown token): 401 ``unauthenticated``,
  with ``WWW-Authenticate: Bearer`` and a sentence saying where the admin token lives;
- the admin token (people, the CLI, the runner): every write;
- an instance's bootstrap token (``gatemesh.security.credentials``): only registering,
  heartbeating and deregistering that very instance; anything else is 403
  ``not-authorized`` naming both identities.

Reads stay open but for the secrets: ``GET /v1/apimgmt`` (the API keys) needs the admin
token (401 without one, 403 with an instance's), and ``/v1/snapshot`` shows its
``apimgmt`` section only to a credential it knows (the admin, or an instance: the
exposed sidecar that applies the keys watches with its bootstrap token); anyone else gets
the registry and policies with the keys redacted (``api.snapshot``). Proxies and the
dashboard still watch the registry without a credential. The identity is kept on the
request (``request["identity"]``) so events can say who changed what.
"""

from __future__ import annotations

from aiohttp import web

from gatemesh.reasons import Reason
from gatemesh.security.credentials import ADMIN_TOKEN_FILE, Credentials, Identity

WRITES = frozenset({"PUT", "POST", "DELETE", "PATCH"})
INSTANCE_ROUTES = frozenset(  # the only writes an instance's own credential may make
    {"/v1/services/{service}/instances/{instance}", "/v1/services/{service}/instances/{instance}/heartbeat"}
)
SELF_SERVICE_ROUTES = frozenset({"/v1/certificates"})  # any instance, for its own service (api.issue_certificate)
CLOSED_READS = frozenset({"/v1/apimgmt"})  # reads that show a secret: the admin's only
SHOWN_TO_CREDENTIALS = frozenset({"/v1/snapshot"})  # open, with the secrets only for a known credential
CREDENTIALS = web.AppKey("credentials", Credentials)


def refuse(status: int, reason: Reason, sentence: str, **extra: str) -> web.Response:
    response = web.json_response({"error": sentence, "reason": str(reason), **extra}, status=status)
    response.headers["X-Gatemesh-Reason"] = str(reason)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gatemesh-controlplane"'
    return response


def bearer_token(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def check(request: web.Request, credentials: Credentials) -> web.Response | Identity:
    """The identity a write proves, or the refusal to answer it with."""
    token = bearer_token(request)
    where = f"the admin token is in the run directory's {ADMIN_TOKEN_FILE}"
    if token is None:
        return refuse(
            401,
            Reason.UNAUTHENTICATED,
            f"{request.method} {request.path} needs a credential: send Authorization: Bearer <token> ({where}).",
        )
    identity = credentials.identify(token)
    if identity is None:
        return refuse(401, Reason.UNAUTHENTICATED, f"the bearer token is not one this control plane issued ({where}).")
    if identity.admin:
        return identity
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else ""
    target = (request.match_info.get("service"), request.match_info.get("instance"))
    if route in INSTANCE_ROUTES and target == (identity.service, identity.instance):
        return identity
    if route in SELF_SERVICE_ROUTES:
        return identity
    what = f"{target[0]}/{target[1]}" if route in INSTANCE_ROUTES else f"{request.method} {request.path}"
    return refuse(
        403,
        Reason.NOT_AUTHORIZED,
        f"{identity} may register, heartbeat and deregister only itself, not {what}.",
    )


def check_read(request: web.Request, credentials: Credentials, route: str) -> web.Response | Identity | None:
    """A read's verdict: None for anonymous on an open route, the identity, or the refusal."""
    token = bearer_token(request)
    if token is None:
        if route not in CLOSED_READS:
            return None
        return refuse(
            401,
            Reason.UNAUTHENTICATED,
            f"GET {request.path} shows API keys and needs the admin token: send Authorization: Bearer <token> "
            f"(the admin token is in the run directory's {ADMIN_TOKEN_FILE}).",
        )
    identity = credentials.identify(token)
    if identity is None:
        return refuse(401, Reason.UNAUTHENTICATED, "the bearer token is not one this control plane issued.")
    if route in CLOSED_READS and not identity.admin:
        return refuse(403, Reason.NOT_AUTHORIZED, f"{identity} may not read {request.path}: it is the admin's.")
    return identity


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    credentials = request.app.get(CREDENTIALS)
    if credentials is None or request.match_info.http_exception is not None:
        return await handler(request)  # an open control plane, or a 404/405 that says more
    if request.method not in WRITES:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else ""
        if route not in CLOSED_READS and route not in SHOWN_TO_CREDENTIALS:
            return await handler(request)  # an open read
        seen = check_read(request, credentials, route)
        if isinstance(seen, web.Response):
            return seen
        if seen is not None:
            request["identity"] = str(seen)
        return await handler(request)
    verdict = check(request, credentials)
    if isinstance(verdict, web.Response):
        return verdict
    request["identity"] = str(verdict)
    return await handler(request)
