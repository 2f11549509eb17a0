"""Run the corpus through gatemesh's gateway, a gatemesh sidecar, HAProxy and nginx at once.

Each proxy gets its own origin (so what reaches an upstream is attributed to the proxy
that sent it) and runs the cases one after another in its own thread; each case opens
one connection, sends its bytes (slow ones piece by piece), and reads until the proxy
closes, goes quiet after answering, or the cap passes. Everything is on loopback and
every process is stopped by its PID.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.bench.procs import Proc, port_free, wait_http
from loadtests.bench.stack import REPO, haproxy_conf, nginx_conf

from .corpus import CASES, Case
from .origin import Origin, Seen

HOST = "diff.test"
PROXIES = ("gateway", "sidecar", "haproxy", "nginx")
OFFSETS = {
    "controlplane": 0,
    "gateway": 1,
    "sidecar": 2,
    "sidecar-out": 3,
    "haproxy": 4,
    "nginx": 5,
    "origin-gateway": 11,
    "origin-sidecar": 12,
    "origin-haproxy": 14,
    "origin-nginx": 15,
}
QUIET_S = 0.4  # after an answer, this long without a byte ends the read
FIRST_BYTE_S = 3.0  # a fast case that got nothing at all by then is left open ("…")
_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")  # anywhere: an answer may follow a body without a CRLF


@dataclass
class Outcome:
    statuses: list[int] = field(default_factory=list)
    reason: str | None = None  # the first answer's X-Gatemesh-Reason
    closed: bool = False  # the proxy closed the connection
    seconds: float = 0.0
    forwarded: list[Seen] = field(default_factory=list)

    @property
    def cell(self) -> str:
        status = "+".join(map(str, self.statuses)) or "—"
        fwd = sum(1 for s in self.forwarded if not s.garbled)
        garbled = sum(1 for s in self.forwarded if s.garbled)
        parts = [status]
        if fwd:
            parts.append(f"→{fwd}")
        if garbled:
            parts.append(f"→{garbled}?")
        parts.append("✕" if self.closed else "…")
        if self.seconds >= 1.0:
            parts.append(f"{self.seconds:.0f}s")
        return " ".join(parts)

    def to_dict(self) -> dict:
        return {
            "statuses": self.statuses,
            "reason": self.reason,
            "closed": self.closed,
            "seconds": round(self.seconds, 2),
            "forwarded": len(self.forwarded),
            "garbled": sum(1 for s in self.forwarded if s.garbled),
        }


def probe(port: int, case: Case, cap_s: float) -> Outcome:
    """One case on one fresh connection."""
    data = case.send if case.answer is None else f"GET /diff/{case.name} HTTP/1.1\r\nHost: {{host}}\r\n\r\n".encode()
    data = data.replace(b"{host}", HOST.encode())
    out = Outcome()
    got = b""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(0.1)
    try:
        try:
            if case.pieces > 1:
                step = max(1, len(data) // case.pieces)
                for i in range(0, len(data), step):
                    s.sendall(data[i : i + step])
                    if _readable(s):
                        break
                    time.sleep(case.pieces_s)
            elif data:
                s.sendall(data)
        except OSError:
            pass  # answered and closed before it read everything
        last = time.monotonic()
        while True:
            now = time.monotonic()
            if now - t0 > cap_s:
                break
            if got and now - last > QUIET_S:
                break
            if not got and case.group != "slow" and now - t0 > FIRST_BYTE_S:
                break
            try:
                piece = s.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                out.closed = True
                break
            if not piece:
                out.closed = True
                break
            got += piece
            last = time.monotonic()
    finally:
        s.close()
    out.seconds = time.monotonic() - t0
    out.statuses = [int(m.group(1)) for m in _STATUS.finditer(got)]
    m = re.search(rb"\r\nx-gatemesh-reason: *([^\r\n]+)", got, re.IGNORECASE)
    out.reason = m.group(1).decode() if m else None
    return out


def _readable(s: socket.socket) -> bool:
    try:
        return bool(s.recv(1, socket.MSG_PEEK))
    except (TimeoutError, BlockingIOError):
        return False
    except OSError:
        return True


class Proxies:
    """The four proxies and their origins on `base + OFFSETS`."""

    def __init__(self, base: int, run: Path, which: tuple[str, ...] = PROXIES, env: dict[str, str] | None = None):
        self.base, self.run, self.which = base, run, which
        self.env = env
        self.procs: list[Proc] = []
        self.origins: dict[str, Origin] = {}

    def port(self, key: str) -> int:
        return self.base + OFFSETS[key]

    def _proc(self, name: str, argv: list[str]) -> Proc:
        import os

        p = Proc(
            name, argv, "0,1", self.run / f"{name}.log", env=dict(os.environ, **(self.env or {})), cwd=REPO
        ).start()
        self.procs.append(p)
        return p

    def start(self) -> None:
        busy = [k for k in OFFSETS if not port_free(self.port(k))]
        if busy:
            raise RuntimeError(
                f"ports in use: {', '.join(f'{k}={self.port(k)}' for k in busy)}; choose another --port-base"
            )
        self.run.mkdir(parents=True, exist_ok=True)
        for name in self.which:
            self.origins[name] = Origin(self.port(f"origin-{name}")).start()
        py = sys.executable
        if "gateway" in self.which or "sidecar" in self.which:
            cp = f"http://127.0.0.1:{self.port('controlplane')}"
            self._proc(
                "controlplane", [py, "-m", "mesh.controlplane", "--port", str(self.port("controlplane")), "--open"]
            )
            wait_http(cp + "/health", 30, proc=self.procs[-1])
        if "gateway" in self.which:
            body = json.dumps({"address": f"127.0.0.1:{self.port('origin-gateway')}", "ttl_s": 300}).encode()
            urllib.request.urlopen(
                urllib.request.Request(f"{cp}/v1/services/origin/instances/origin-1", data=body, method="PUT"),
                timeout=5,
            ).close()
            conf = self.run / "gateway.json"
            conf.write_text(
                json.dumps(
                    {
                        "listen": f"127.0.0.1:{self.port('gateway')}",
                        "control_plane": cp,
                        "proxy_name": "gateway",
                        "apimgmt": {"enabled": False},
                        "routes": [{"name": "diff", "prefix": "/diff", "service": "origin"}],
                    }
                )
            )
            self._proc("gateway", [py, "-m", "gateway", "--config", str(conf)])
        if "sidecar" in self.which:
            self._proc(
                "sidecar",
                [
                    py,
                    "-m",
                    "mesh.sidecar",
                    "--service",
                    "diff",
                    "--instance",
                    "diff-1",
                    "--app",
                    f"127.0.0.1:{self.port('origin-sidecar')}",
                    "--inbound-port",
                    str(self.port("sidecar")),
                    "--outbound-port",
                    str(self.port("sidecar-out")),
                    "--advertise",
                    f"127.0.0.1:{self.port('sidecar')}",
                    "--control-plane",
                    cp,
                    "--ttl-s",
                    "30",
                ],
            )
        if "haproxy" in self.which:
            (self.run / "haproxy.cfg").write_text(haproxy_conf(self.port("haproxy"), self.port("origin-haproxy")))
            self._proc("haproxy", ["haproxy", "-db", "-f", str(self.run / "haproxy.cfg")])
        if "nginx" in self.which:
            (self.run / "nginx.conf").write_text(
                nginx_conf(self.run, self.port("nginx"), upstream=self.port("origin-nginx"))
            )
            self._proc("nginx", ["nginx", "-p", str(self.run), "-e", "stderr", "-c", str(self.run / "nginx.conf")])
        for name in self.which:
            wait_http(
                f"http://127.0.0.1:{self.port(name)}/diff/echo",
                60,
                {"Host": HOST},
                proc=next((p for p in self.procs if p.name == name), None),
            )

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        for o in self.origins.values():
            o.stop()


def run_corpus(
    proxies: Proxies, cases: tuple[Case, ...] = CASES, cap_s: float = 5.0, slow_cap_s: float = 35.0
) -> dict[str, dict[str, Outcome]]:
    """case name → proxy → Outcome; the proxies run in parallel, their cases in turn. A
    slow case may take `slow_cap_s` (above gatemesh's 30 s body idle timeout)."""
    results: dict[str, dict[str, Outcome]] = {c.name: {} for c in cases}

    def one(name: str) -> None:
        origin = proxies.origins[name]
        for case in cases:
            t0 = time.monotonic()
            out = probe(proxies.port(name), case, slow_cap_s if case.group == "slow" else cap_s)
            time.sleep(0.3)  # let a late forward land in this case's window
            out.forwarded = [s for s in origin.between(t0, time.monotonic())]
            if case.answer is None:
                results[case.name][name] = out
            else:  # the request itself is plain: count only what was not it
                out.forwarded = []
                results[case.name][name] = out

    threads = [threading.Thread(target=one, args=(n,), name=f"diff-{n}") for n in proxies.which]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
