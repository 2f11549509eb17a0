"""The rules a request head must pass before a proxy forwards it (RFC 9110 / RFC 9112).

llhttp already refuses the classic smuggling shapes (Content-Length with
Transfer-Encoding, two Content-Lengths, bare LF, obs-fold, a space before the colon);
what it lets through and a proxy must not forward is checked here:

- versions: only HTTP/1.0 and HTTP/1.1 (505 unsupported-version; HTTP/0.9 included);
- CONNECT and protocol upgrades: 501, each with its own reason (no tunnel, no switch);
- Host (RFC 9112 §3.2): exactly one in HTTP/1.1 (400 bad-host for none or two), a
  well-formed authority, and with an absolute-form target the same authority as the
  target's — the target is then normalised to origin form and Host set from it. An
  HTTP/1.0 request without Host gets the listener's own authority, which is what a 1.1
  client would have sent, since it goes on upstream as HTTP/1.1;
- Transfer-Encoding (RFC 9112 §6.1): exactly `chunked`, and never in HTTP/1.0 (400
  bad-framing): anything else is how one hop's framing differs from the next one's.
"""

from __future__ import annotations

import re

from ..reasons import Reason
from .messages import Headers

# RFC 3986 authority without userinfo: reg-name or IPv4, or an IP literal, then an optional port.
_HOST = re.compile(rb"(?:[A-Za-z0-9._~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?")


class HeadRefused(Exception):
    """The head breaks a rule; `reason` is the `Reason`, the message one sentence."""

    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_version(version: str) -> None:
    if version != "1.1" and version != "1.0":
        raise HeadRefused(Reason.UNSUPPORTED_VERSION, f"HTTP/{version} is not supported here; speak HTTP/1.1 (or 1.0)")


def check_method(method: bytes, upgrade: bool) -> None:
    if method == b"CONNECT":
        raise HeadRefused(Reason.CONNECT_NOT_SUPPORTED, "CONNECT is not supported: this proxy opens no tunnels")
    if upgrade:
        raise HeadRefused(
            Reason.UPGRADE_NOT_SUPPORTED, "protocol upgrades (Upgrade, h2c, WebSocket) are not supported by this proxy"
        )


def check_framing(version: str, te: bytes | None) -> None:
    if te is None:
        return
    if version == "1.0":
        raise HeadRefused(Reason.BAD_FRAMING, "Transfer-Encoding is not defined in HTTP/1.0 (RFC 9112 §6.1)")
    if te.strip().lower() != b"chunked":
        raise HeadRefused(
            Reason.BAD_FRAMING, f"Transfer-Encoding must be exactly 'chunked', not {te[:64].decode('latin-1')!r}"
        )


def check_host(version: str, target: bytes, headers: Headers, hosts: int, local_authority: bytes) -> bytes:
    """Apply the Host rules; returns the target to forward (origin form), fixing Host in place."""
    if hosts > 1:
        raise HeadRefused(Reason.BAD_HOST, "a request must carry one Host header, not several (RFC 9112 §3.2)")
    host = None
    at = -1
    if hosts == 1:
        at = next(i for i, (n, _) in enumerate(headers) if n == b"host")
        host = headers[at][1]
        if not host_is_valid(host):
            raise HeadRefused(
                Reason.BAD_HOST, f"Host {(host or b'')[:64].decode('latin-1')!r} is not a valid authority"
            )
    elif version == "1.1":
        raise HeadRefused(Reason.BAD_HOST, "an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)")
    if target[:1] == b"/" or target == b"*":
        if host is None:
            headers.append((b"host", local_authority))
        return target
    lowered = target[:8].lower()
    if not (lowered.startswith(b"http://") or lowered.startswith(b"https://")):
        raise HeadRefused(Reason.BAD_REQUEST, "the request target must be a path (/...) or an absolute http(s) URI")
    rest = target[target.index(b"//") + 2 :]
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if b"@" in authority or _HOST.fullmatch(authority) is None or not authority:
        raise HeadRefused(Reason.BAD_HOST, "the absolute target's authority is not a valid host[:port]")
    if host is not None and host.lower() != authority.lower():
        raise HeadRefused(
            Reason.BAD_HOST,
            f"Host {host[:64].decode('latin-1')!r} differs from the target's "
            f"authority {authority[:64].decode('latin-1')!r}",
        )
    if host is None:
        headers.append((b"host", authority))
    else:
        headers[at] = (b"host", authority)
    return path if path[:1] == b"/" else b"/" + path


def check_unfinished(
    pending: bytes | bytearray, max_line: int, max_header_line: int, max_head: int, line_seen: bool
) -> HeadRefused | None:
    """A head still without its end: refused as soon as a limit is passed (or it is
    HTTP/0.9, which has no end to wait for), else None and the gathering goes on.
    `line_seen`: the parser already has the request line (a pipelined head), so the
    gathered bytes start inside the header section."""
    line_end = pending.find(b"\r\n", 0, max_line + 2)
    if line_end < 0 and not line_seen and len(pending.lstrip(b"\r\n")) > max_line:
        return HeadRefused(Reason.URI_TOO_LONG, f"the request line exceeds {max_line} bytes")
    last_line = len(pending) - (pending.rfind(b"\r\n") + 2 if line_end >= 0 else 0)
    if (line_end >= 0 or line_seen) and last_line > max_header_line:
        return HeadRefused(Reason.HEADERS_TOO_LARGE, f"a header line exceeds {max_header_line} bytes")
    if len(pending) > max_head:
        return HeadRefused(Reason.HEADERS_TOO_LARGE, f"the request head exceeds {max_head} bytes")
    if line_end >= 0 and not line_seen and b" HTTP/" not in pending.lstrip(b"\r\n").split(b"\r\n", 1)[0]:
        return HeadRefused(Reason.UNSUPPORTED_VERSION, "HTTP/0.9 is not supported here; speak HTTP/1.1")
    return None


# Host values already found well-formed: most requests repeat a few, and a set lookup is
# what the server's fast path can afford (a regex match is not). Bounded, never evicted.
VALID_HOSTS: set[bytes] = set()


def host_is_valid(host: bytes) -> bool:
    if host in VALID_HOSTS:
        return True
    if _HOST.fullmatch(host) is None:
        return False
    if len(VALID_HOSTS) < 4096:
        VALID_HOSTS.add(host)
    return True


def vet(
    version: str,
    method: bytes,
    upgrade: bool,
    te: bytes | None,
    target: bytes,
    headers: Headers,
    hosts: int,
    local_authority: bytes,
) -> bytes:
    """Every rule above, for a head off the common path; returns the target to forward."""
    check_version(version)
    check_method(method, upgrade)
    check_framing(version, te)
    return check_host(version, target, headers, hosts, local_authority)
