"""Driving one hop with wrk (pinned to core 0) and reading its result as JSON.

Three load shapes, each bounded by wrk's own `-d` duration (and a hard subprocess
timeout on top):

- saturation: 32 connections, back to back (closed loop): the hop's req/s ceiling;
- paced: a fixed moderate rate without wrk2. Each of `PACED_CONNECTIONS` connections
  waits `delay()` ms (wrk's Lua hook) after every response before sending the next,
  so the offered rate is connections / (delay + latency) — within a few percent of the
  target while a hop's latency is well under the delay. wrk measures latency from
  sending to the response, not including the delay. The achieved rate is reported;
- unloaded: one connection, back to back (c=1): the hop's own latency.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .stack import WRK_CPU

SATURATION_CONNECTIONS = 32
PACED_CONNECTIONS = 8
MARK = "BENCH-JSON "

LUA = r"""
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay() return delay_ms end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    "BENCH-JSON ", summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def write_script(run: Path) -> Path:
    path = run / "bench.lua"
    path.write_text(LUA)
    return path


def run_wrk(
    url: str,
    headers: tuple[tuple[str, str], ...],
    script: Path,
    *,
    connections: int,
    duration_s: int,
    delay_ms: int = 0,
    timeout_s: int = 2,
) -> WrkResult:
    argv = [
        "taskset",
        "-c",
        WRK_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "-s",
        str(script),
    ]
    for name, value in headers:
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    env = {"BENCH_DELAY_MS": str(delay_ms), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration_s + timeout_s + 15)
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            d = json.loads(line[len(MARK) :])
            return WrkResult(
                d["requests"], d["duration_us"] / 1e6, d["errors"], {k: float(v) for k, v in d["latency_us"].items()}
            )
    raise RuntimeError(f"wrk gave no result (exit {out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
