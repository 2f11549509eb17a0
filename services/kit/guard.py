"""Only through its own sidecar: an app behind a sidecar refuses calls that went around it.

On one host every process can connect to 127.0.0.1, so binding cannot keep a caller off
the app's port (issue 15, item 5: "bound so, or checked"); this checks. The runner hands
an app and its sidecar one per-instance secret; the sidecar adds it to every call it
passes in (``X-Gatemesh-App-Secret``), and the app answers only calls that carry it:

- a call with the secret: its sidecar's; served;
- a call with the run's admin token (``Authorization: Bearer``; people, the CLI, the
  chaos tests counting at the instance): served. The app holds only the token's SHA-256,
  so an app's environment gives nobody the admin token;
- anything else: 403 ``not-via-sidecar`` with a sentence, counted nowhere, misbehaving never;
- ``GET /health`` always answers: liveness and readiness probes (its sidecar's, the
  runner's, a kubelet's) come straight to the app, as Istio's probe rewrite lets them.

Without a secret (the edge topology, whose apps are their own front door; compose and
Kubernetes until they hand one out) the check is off and nothing changes. Services import
nothing of gatemesh's, so the names here repeat gatemesh's (``gatemesh.reasons``,
``gatemesh.security.credentials``); a unit test keeps them equal.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from services.kit.http import error_response

SECRET_HEADER = "X-Gatemesh-App-Secret"  # mesh.sidecar.app.APP_SECRET_HEADER
SECRET_ENV = "GATEMESH_APP_SECRET"  # gatemesh.security.credentials.APP_SECRET_ENV
ADMIN_DIGEST_ENV = "GATEMESH_ADMIN_TOKEN_SHA256"  # gatemesh.security.credentials.ADMIN_DIGEST_ENV
REASON = "not-via-sidecar"  # gatemesh.reasons.Reason.NOT_VIA_SIDECAR
REASON_HEADER = "X-Gatemesh-Reason"
OPEN_PATHS = frozenset({"/health"})  # probes reach the app directly


@dataclass(frozen=True)
class SidecarOnly:
    """Who an app behind a sidecar answers: its sidecar, and the admin."""

    secret: str = field(repr=False)  # the instance's app secret, shared with its sidecar only
    admin_digest: str | None = field(default=None, repr=False)  # SHA-256 hex of the run's admin token

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the app secret must be at least 32 characters (the runner's are 64 hex digits).")
        if self.admin_digest is not None and len(self.admin_digest) != 64:
            raise ValueError("the admin token's digest must be 64 hex digits (a SHA-256).")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SidecarOnly | None:
        """The check the runner asked for, or None (off) when it handed no secret."""
        secret = env.get(SECRET_ENV)
        return cls(secret, env.get(ADMIN_DIGEST_ENV) or None) if secret else None

    def admits(self, request: web.Request) -> bool:
        if any(hmac.compare_digest(v, self.secret) for v in request.headers.getall(SECRET_HEADER, ())):
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if self.admin_digest is None or scheme.lower() != "bearer" or not token.strip():
            return False
        return hmac.compare_digest(hashlib.sha256(token.strip().encode()).hexdigest(), self.admin_digest)


GUARD = web.AppKey("services.kit.sidecar-only", SidecarOnly)


@web.middleware
async def sidecar_only(request: web.Request, handler):
    """Outermost: a refused call is not counted, and no misbehaviour is spent on it."""
    guard = request.app.get(GUARD)
    if guard is None or request.path in OPEN_PATHS or guard.admits(request):
        return await handler(request)
    return error_response(
        request,
        403,
        f"{request.method} {request.path}: this app answers only calls through its own sidecar "
        "(or with the run's admin token: Authorization: Bearer <admin-token>)",
        {REASON_HEADER: REASON},
        reason=REASON,
    )
