"""Forwarding, shared by the gateway and the sidecar: a request goes upstream through the
resilient call with this hop's headers, and its answer comes back with them.

The proxy's own endpoints are admin.py's; the process around both is shell.py's.
"""

from __future__ import annotations

from .http.messages import FRAMING, Headers, Request, Response, connection_options
from .outcome import Outcome
from .patterns.deadline import DEADLINE_HEADER_BYTES, Deadline
from .patterns.retry import IDEMPOTENT_METHODS
from .pipeline import HOP_HEADERS, ResilientCaller
from .reasons import Reason
from .refusal import Refusal, to_response

_DEADLINE_NAME = DEADLINE_HEADER_BYTES
_NOTHING: dict[bytes, bytes] = {}  # split_headers' answer when no header was rewritten: never written to
# Headers a hop rewrites instead of copying: framing and hop-by-hop ones, and its own.
_REWRITTEN_REQUEST = frozenset(FRAMING | HOP_HEADERS | {b"x-forwarded-for", b"via"})
_REWRITTEN_RESPONSE = frozenset(FRAMING | {b"x-gatemesh-attempts", b"x-gatemesh-proxy"})


def split_headers(headers: Headers, rewritten: frozenset[bytes]) -> tuple[Headers, dict[bytes, bytes]]:
    """One pass over a message's headers, for every hop and both directions: (the headers
    copied on, minus those its `Connection` lists; the `rewritten` ones by name, repeated
    fields joined by ", " as RFC 9110 §5.3 combines them). Runs twice per request."""
    out: Headers = []
    keep = out.append
    found: dict[bytes, bytes] = _NOTHING
    for h in headers:  # each pair kept as it is: no tuple made again per header
        n = h[0]
        if n in rewritten:
            if found is _NOTHING:
                found = {n: h[1]}
            elif n in found:
                found[n] = found[n] + b", " + h[1]
            else:
                found[n] = h[1]
            continue
        keep(h)
    if found:
        listed = found.get(b"connection")
        if listed:
            options = connection_options(listed)
            if options:
                out = [(n, v) for n, v in out if n not in options]
    return out, found


def service_from_host(req: Request) -> str | None:
    """The target service of an east-west call: the Host header without its port."""
    host = req.header(b"host")
    if not host:
        return None
    return host.split(b":", 1)[0].decode("latin-1").lower()


class Proxy:
    """One hop's forwarding through one `ResilientCaller` (the sidecar has two: inbound, outbound)."""

    def __init__(self, name: str, caller: ResilientCaller):
        self.name = name
        self.name_bytes = name.encode()
        self.caller = caller
        self._via = b"1.1 " + name.replace(":", "-").encode()
        # X-Gatemesh-Attempts' own entry per attempt count, made once (a bytes format per
        # request costs ~900 instructions).
        self._chains = [b"%s=%d" % (self.name_bytes, n) for n in range(17)]

    # --- forwarding ------------------------------------------------------------------
    def incoming_deadline(self, req: Request) -> Deadline | None:
        """The caller's deadline, if it sent one; a malformed header is the caller's bug → Refusal 400."""
        raw = req.header(_DEADLINE_NAME)
        if raw is None:
            return None
        try:
            return Deadline.from_header(self.caller.clock, raw, None)
        except ValueError as exc:
            raise Refusal(Reason.BAD_REQUEST, str(exc)) from None

    def outgoing_headers(self, req: Request) -> Headers:
        """The request's headers as they go upstream: hop-by-hop ones (and those its
        `Connection` lists) dropped, this hop appended to X-Forwarded-For and Via."""
        return self._outgoing(req)[0]

    def _outgoing(self, req: Request) -> tuple[Headers, bool]:
        """`outgoing_headers`, and whether the request carried a deadline header (found by
        the same pass over its headers, so a request without one pays no second scan)."""
        out, rewritten = split_headers(req.headers, _REWRITTEN_REQUEST)
        peer = req.peer.encode()
        if not rewritten:
            out.append((b"x-forwarded-for", peer))
            out.append((b"via", self._via))
            return out, False
        fwd, via = rewritten.get(b"x-forwarded-for"), rewritten.get(b"via")
        out.append((b"x-forwarded-for", fwd + b", " + peer if fwd else peer))
        out.append((b"via", via + b", " + self._via if via else self._via))
        return out, _DEADLINE_NAME in rewritten

    def call_args(self, req: Request, target: bytes) -> tuple[bytes, bytes, Headers, bytes, Deadline | None, bool]:
        """What `ResilientCaller.call` takes after the service: method, `target`, this hop's
        headers, body, the caller's deadline and whether the request may be retried by its
        key. A plain call, so the shell awaits `call` itself: see `forward`. Raises a
        Refusal (400) for a malformed deadline header."""
        headers, has_deadline = self._outgoing(req)
        method = req.method
        return (
            method,
            target,
            headers,
            req.body,
            self.incoming_deadline(req) if has_deadline else None,
            # Only a method that is not idempotent needs its key to be retried at all.
            method not in IDEMPOTENT_METHODS and req.header(b"idempotency-key") is not None,
        )

    def refused(self, refusal: Refusal) -> Response:
        """A refusal as this hop's own answer."""
        return to_response(refusal, self.name_bytes)

    async def forward(self, req: Request, service: str, target: bytes) -> Response:
        """The request to `service` as `target`; a refusal becomes this hop's own answer.

        The shell's handler does the same inline (`call_args`, `caller.call`,
        `response_from`): a coroutine layer is a frame that each request creates and each
        resumption passes through (~3k instructions a request, callgrind)."""
        try:
            result = await self.caller.call(service, *self.call_args(req, target))
        except Refusal as refusal:
            return to_response(refusal, self.name_bytes)
        return self.response_from(result)

    def response_from(self, result: Outcome) -> Response:
        """The upstream's answer as this hop sends it on: hop-by-hop headers dropped, this
        hop added to X-Gatemesh-Attempts, and the body whole or streamed as it arrives."""
        out, rewritten = split_headers(result.headers, _REWRITTEN_RESPONSE)
        upstream_chain, length = rewritten.get(b"x-gatemesh-attempts"), rewritten.get(b"content-length")
        attempts = result.attempts
        chain = self._chains[attempts] if attempts < len(self._chains) else b"%s=%d" % (self.name_bytes, attempts)
        out.append((b"x-gatemesh-attempts", chain + b", " + upstream_chain if upstream_chain else chain))
        out.append((b"x-gatemesh-proxy", self.name_bytes))
        if result.reason is not None:
            out.append((b"x-gatemesh-reason", result.reason.encode()))
        resp = result.response
        if resp is None:
            return Response(result.status, out, result.body)
        # The declared length frames a stream, and is passed on for HEAD and 304 answers.
        content_length = int(length) if length is not None and length.isdigit() else None
        if resp.complete:
            return Response(result.status, out, resp.body, content_length=content_length)
        return Response(result.status, out, stream=resp.iter_body(), content_length=content_length)
