"""Every reason a proxy can give for answering on its own, declared once.

The value is what the client reads in `X-Gatemesh-Reason` (and in the JSON body's
`"reason"`); the status is the HTTP answer that reason always gets. Retries, metrics,
events, the HTTP server, API management, composition and the refusal mapping all use
these members, so a typo is an AttributeError at import time rather than a KeyError at
the moment a proxy refuses a client.

`Reason` is a `StrEnum`: a member *is* its string, so it goes straight into headers,
JSON and metric labels, and compares equal to the bare strings older code and the
docs use.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # 504: the answer did not come in time
    TIMEOUT = "timeout"
    DEADLINE_EXCEEDED = "deadline-exceeded"
    # 503: the proxy refused to call, or could not reach anyone
    CIRCUIT_OPEN = "circuit-open"
    NO_HEALTHY_UPSTREAM = "no-healthy-upstream"
    RETRY_BUDGET_EXHAUSTED = "retry-budget-exhausted"
    OVERLOADED = "overloaded"
    CONNECT_FAILED = "connect-failed"  # Envoy answers 503 (UF) for a failed connect
    # 502: the upstream broke
    UPSTREAM_ERROR = "upstream-error"
    UPSTREAM_RESET = "upstream-reset"  # Envoy: 503 UC; 502 keeps "the upstream broke" apart from "we refused"
    UPSTREAM_PROTOCOL_ERROR = "upstream-protocol-error"  # not HTTP/1.1 (bad status line, an unasked 101): never retried
    UPSTREAM_HEAD_TOO_LARGE = "upstream-head-too-large"  # HAProxy and nginx answer 502 too
    UPSTREAM_IDLE_TIMEOUT = "upstream-idle-timeout"  # the body stalled (HAProxy's timeout server)
    # 404: nobody to send it to
    UNKNOWN_SERVICE = "unknown-service"
    NO_ROUTE = "no-route"
    # API management
    MISSING_API_KEY = "missing-api-key"
    INVALID_API_KEY = "invalid-api-key"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate-limited"
    # trust (docs/security.md): who is calling, and may they
    UNAUTHENTICATED = "unauthenticated"  # a control-plane write without a credential it knows
    NOT_AUTHORIZED = "not-authorized"  # a known identity that may not do this (names the caller)
    ADDRESS_REFUSED = "address-refused"  # a registration outside the topology's networks, or a control endpoint
    MTLS_REQUIRED = "mtls-required"  # plain HTTP on a strict mTLS port (gatemesh.security.tls writes it)
    NOT_VIA_SIDECAR = "not-via-sidecar"  # an app behind a sidecar called around it (services/kit/guard.py writes it)
    MISSING_TOKEN = "missing-token"  # a JWT-only route got no bearer token
    TOKEN_MALFORMED = "token-malformed"  # JWT (gatemesh.security.jwt): not a JWT, no kid, a claim missing
    TOKEN_UNKNOWN_KEY = "token-unknown-key"
    TOKEN_SIGNATURE = "token-signature"
    TOKEN_EXPIRED = "token-expired"
    TOKEN_AUDIENCE = "token-audience"
    TOKEN_ISSUER = "token-issuer"
    # the request itself
    BAD_REQUEST = "bad-request"
    PAYLOAD_TOO_LARGE = "payload-too-large"
    BAD_HOST = "bad-host"  # RFC 9112 §3.2: none in 1.1, two, or not the absolute form's
    BAD_FRAMING = "bad-framing"  # a Transfer-Encoding other than exactly chunked (smuggling's tool)
    URI_TOO_LONG = "uri-too-long"
    HEADERS_TOO_LARGE = "headers-too-large"  # one header line or the whole head over its limit
    REQUEST_TIMEOUT = "request-timeout"  # the head, or the body, did not arrive in time
    UNSUPPORTED_VERSION = "unsupported-version"  # HTTP/0.9, HTTP/2.0 in a request line
    UPGRADE_NOT_SUPPORTED = "upgrade-not-supported"  # Upgrade/h2c: no protocol switch is implemented
    CONNECT_NOT_SUPPORTED = "connect-not-supported"  # CONNECT: this is no forward proxy
    TOO_MANY_CONNECTIONS = "too-many-connections"  # the listener's connection cap
    TOO_MANY_CLIENT_CONNECTIONS = "too-many-client-connections"  # the listener's cap per client address
    # the proxy itself broke (a bug): the server's last resort, logged with its traceback
    INTERNAL_ERROR = "internal-error"
    # not a refusal: an answer served from the fallback (a cached or declared response)
    FALLBACK = "fallback"


STATUS: dict[Reason, int] = {
    Reason.TIMEOUT: 504,
    Reason.DEADLINE_EXCEEDED: 504,
    Reason.CIRCUIT_OPEN: 503,
    Reason.NO_HEALTHY_UPSTREAM: 503,
    Reason.RETRY_BUDGET_EXHAUSTED: 503,
    Reason.OVERLOADED: 503,
    Reason.CONNECT_FAILED: 503,
    Reason.UPSTREAM_ERROR: 502,
    Reason.UPSTREAM_RESET: 502,
    Reason.UPSTREAM_PROTOCOL_ERROR: 502,
    Reason.UPSTREAM_HEAD_TOO_LARGE: 502,
    Reason.UPSTREAM_IDLE_TIMEOUT: 504,
    Reason.UNKNOWN_SERVICE: 404,
    Reason.NO_ROUTE: 404,
    Reason.MISSING_API_KEY: 401,
    Reason.INVALID_API_KEY: 401,
    Reason.FORBIDDEN: 403,
    Reason.RATE_LIMITED: 429,
    Reason.UNAUTHENTICATED: 401,
    Reason.NOT_AUTHORIZED: 403,
    Reason.ADDRESS_REFUSED: 403,
    Reason.MTLS_REQUIRED: 400,
    Reason.NOT_VIA_SIDECAR: 403,
    Reason.MISSING_TOKEN: 401,
    Reason.TOKEN_MALFORMED: 401,
    Reason.TOKEN_UNKNOWN_KEY: 401,
    Reason.TOKEN_SIGNATURE: 401,
    Reason.TOKEN_EXPIRED: 401,
    Reason.TOKEN_AUDIENCE: 401,
    Reason.TOKEN_ISSUER: 401,
    Reason.BAD_REQUEST: 400,
    Reason.PAYLOAD_TOO_LARGE: 413,
    Reason.BAD_HOST: 400,
    Reason.BAD_FRAMING: 400,
    Reason.URI_TOO_LONG: 414,
    Reason.HEADERS_TOO_LARGE: 431,
    Reason.REQUEST_TIMEOUT: 408,
    Reason.UNSUPPORTED_VERSION: 505,
    Reason.UPGRADE_NOT_SUPPORTED: 501,
    Reason.CONNECT_NOT_SUPPORTED: 501,
    Reason.TOO_MANY_CONNECTIONS: 503,
    Reason.TOO_MANY_CLIENT_CONNECTIONS: 503,
    Reason.INTERNAL_ERROR: 500,
    Reason.FALLBACK: 200,
}

assert set(STATUS) == set(Reason), "every Reason needs its status in STATUS"


def status_of(reason: Reason | str) -> int:
    """The HTTP status for ``reason``; ValueError naming the known reasons for a typo."""
    try:
        return STATUS[Reason(reason)]
    except ValueError:
        raise ValueError(f"unknown reason {reason!r}; known: {', '.join(r.value for r in Reason)}") from None
