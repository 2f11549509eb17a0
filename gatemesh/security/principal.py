"""What the edge hands upstream about its client: who it is, never how it proved it.

The hardening review saw a rogue registration receive the client's ``X-Api-Key``: the
gateway copied every header on. An edge proxy (the gateway, or the ``--expose`` sidecar)
now removes the client's credentials once it has checked them, and removes any
``X-Gatemesh-Principal`` the client sent (a client must not name itself), then adds its
own: the identity it authenticated, which the mesh may believe only from the edge.

- an API key becomes ``apikey:<first 16 hex of its SHA-256>``: stable per key, useless as a key;
- a JWT becomes ``jwt:<sub>`` (``gatemesh.security.jwt``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from gatemesh.http.messages import Request

PRINCIPAL_HEADER = b"x-gatemesh-principal"
# What never goes past the edge: the client's proofs, and any identity it claims for itself.
CLIENT_CREDENTIALS = frozenset({b"x-api-key", b"authorization", PRINCIPAL_HEADER})


@lru_cache(maxsize=1024)  # a SHA-256 per request costs more than the rest of the key check; only known keys reach it
def key_principal(key: bytes) -> bytes:
    return b"apikey:" + hashlib.sha256(key).hexdigest()[:16].encode()


def hand_on(req: Request, principal: bytes | None) -> None:
    """Strip the client's credentials from ``req`` (in place) and name ``principal`` instead."""
    headers = req.headers
    for n, _ in headers:  # a loop, not any(genexpr): no generator made on every request
        if n in CLIENT_CREDENTIALS:
            headers[:] = [(n, v) for n, v in headers if n not in CLIENT_CREDENTIALS]
            break
    if principal is not None:
        headers.append((PRINCIPAL_HEADER, principal))


def api_key_principal(req: Request) -> bytes | None:
    key = req.header(b"x-api-key")
    return key_principal(key) if key else None


def drop_principal(req: Request) -> None:
    """Forget an ``X-Gatemesh-Principal`` from a caller that may not vouch for anyone."""
    req.headers[:] = [(n, v) for n, v in req.headers if n != PRINCIPAL_HEADER]
