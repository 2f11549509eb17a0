"""Every answer a proxy gives on its own, named once.

A refusal is an exception carrying the HTTP status and the reason the client sees in
`X-Gatemesh-Reason`; the gateway and the sidecar both turn it into a response with
`to_response`, so the same failure reads the same at the edge and in the mesh.

    Refusal
    ├── 504  timeout, deadline-exceeded
    ├── 503  circuit-open, no-healthy-upstream, retry-budget-exhausted, overloaded, connect-failed
    ├── 502  upstream-error, upstream-reset
    ├── 404  unknown-service, no-route
    ├── 401/403/429  missing-api-key, invalid-api-key, forbidden, rate-limited
    └── 400/413  bad-request, payload-too-large
"""

from __future__ import annotations

from .http.messages import Response, json_response
from .reasons import STATUS, Reason, status_of

# Kept as the name older callers use; the one table is gatemesh.reasons.STATUS.
STATUS_BY_REASON = STATUS


class Refusal(Exception):
    """A proxy declined or failed to get an answer; `reason` is a `Reason`."""

    def __init__(self, reason: Reason | str, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status_of(reason)
        self.reason = Reason(reason)
        self.message = message
        self.retry_after_s = retry_after_s


def refusal_response(
    reason: Reason | str, message: str, proxy: bytes, attempts: int = 0, retry_after_s: float | None = None
) -> Response:
    headers = [(b"x-gatemesh-reason", reason.encode()), (b"x-gatemesh-proxy", proxy)]
    if attempts:
        headers.append((b"x-gatemesh-attempts", b"%d" % attempts))
    if retry_after_s is not None:
        headers.append((b"retry-after", b"%d" % max(1, int(retry_after_s + 0.999))))
    return json_response(status_of(reason), {"error": message, "reason": str(reason)}, headers)


def to_response(refusal: Refusal, proxy: bytes, attempts: int = 0) -> Response:
    return refusal_response(refusal.reason, refusal.message, proxy, attempts, refusal.retry_after_s)
