"""python -m loadtests.bench.slowloris [--hop gateway,sidecar-in] [--phase-s 20] [--slow 1000] [--flood 6000]

Normal clients' latency while an attacker holds connections open, in three phases per
hop (everything on loopback, every loop bounded in count and time):

  quiet      normal clients alone
  slowloris  + `--slow` connections (1,000) each sending its head a few bytes at a time,
             reopening when the proxy cuts it (as slowloris does)
  fd-flood   + as many idle connections as it can open, up to `--flood` (6,000 > the
             listener's 4,096 cap), reopened as they are refused or cut

Normal clients: 8 keep-alive connections (each a request in turn, opened before the
attack, as a browser's or a proxy's pool is), plus 2 that open a new connection for
every request (the ones a connection cap can refuse). Reported: p50/p99 of the
keep-alive requests, the new-connection requests' successes, and what the attacker got.
The attacker runs in its own process so its work does not sit in the measuring loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .stack import HOPS, Stack, exchange

MEASURABLE = ("gateway", "sidecar-in")
KEEPALIVE_CLIENTS, FRESH_CLIENTS = 8, 2
MAX_REQUESTS_PER_CLIENT = 200_000  # a bound on every loop, besides its time


async def _normal(port: int, raw: bytes, seconds: float) -> dict:
    lat: list[float] = []
    fresh_ok = fresh_failed = ka_failed = 0
    why: dict[str, int] = {}  # what the failed keep-alive requests got
    end = time.monotonic() + seconds

    async def keepalive() -> None:
        nonlocal ka_failed
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                if time.monotonic() > end:
                    break
                t0 = time.perf_counter()
                try:
                    status = await asyncio.wait_for(exchange(reader, writer, raw), 10)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    ka_failed += 1
                    why[type(exc).__name__] = why.get(type(exc).__name__, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                lat.append(time.perf_counter() - t0)
                if status != 200:
                    ka_failed += 1
                    why[str(status)] = why.get(str(status), 0) + 1
        finally:
            writer.close()

    async def fresh() -> None:
        nonlocal fresh_ok, fresh_failed
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() > end:
                break
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
                try:
                    status = await asyncio.wait_for(exchange(reader, writer, raw), 10)
                finally:
                    writer.close()
                fresh_ok += status == 200
                fresh_failed += status != 200
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
                fresh_failed += 1
            await asyncio.sleep(0.01)

    await asyncio.gather(*(keepalive() for _ in range(KEEPALIVE_CLIENTS)), *(fresh() for _ in range(FRESH_CLIENTS)))
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else float("nan")

    return {
        "requests": len(lat),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "keepalive_failed": ka_failed,
        "keepalive_failures": why,
        "fresh_ok": fresh_ok,
        "fresh_failed": fresh_failed,
    }


def _attack(port: int, kind: str, count: int, seconds: float, out: mp.Queue[dict], delay_s: float = 0.0) -> None:
    """In its own process: after `delay_s` (the normal clients connect first), hold `count`
    connections open for `seconds`, reopening cut ones."""
    time.sleep(delay_s)

    async def main() -> dict:
        stats = {"opened": 0, "cut": 0, "refused": 0, "open_at_end": 0, "open_max": 0}
        end = time.monotonic() + seconds
        live = 0

        async def one(i: int) -> None:
            nonlocal live
            for _ in range(10_000):
                if time.monotonic() > end:
                    return
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    stats["refused"] += 1
                    await asyncio.sleep(0.5)
                    continue
                stats["opened"] += 1
                live += 1
                stats["open_max"] = max(stats["open_max"], live)
                try:
                    if kind == "slowloris":
                        writer.write(b"GET /api/bench/1 HTTP/1.1\r\nHost: bench\r\n")
                        while time.monotonic() < end:
                            await asyncio.sleep(2.0)
                            writer.write(b"X-a: b\r\n")
                            await writer.drain()
                            if reader.at_eof():
                                break
                    else:
                        data = await asyncio.wait_for(reader.read(1024), max(0.1, end - time.monotonic()))
                        if data.startswith(b"HTTP/1.1 503"):
                            stats["refused"] += 1
                except (OSError, TimeoutError):
                    pass
                finally:
                    live -= 1
                    writer.close()
                if time.monotonic() < end:
                    stats["cut"] += 1
                    await asyncio.sleep(0.2)

        async def ramp() -> None:
            tasks = []
            for i in range(count):
                tasks.append(asyncio.create_task(one(i)))
                if i % 200 == 199:
                    await asyncio.sleep(0.05)
            await asyncio.gather(*tasks)

        await asyncio.wait_for(ramp(), seconds + 15)
        return stats

    out.put(asyncio.run(main()))


def run_hop(hop_name: str, base: int, phase_s: float, slow: int, flood: int) -> dict:
    hop = next(h for h in HOPS if h.name == hop_name)
    run = Path(tempfile.mkdtemp(prefix="gatemesh-slowloris-"))
    stack = Stack(base, run, (hop,))
    raw = (
        f"GET {hop.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in (("Host", "bench"), *hop.headers)) + "\r\n"
    ).encode()
    result: dict = {"hop": hop_name}
    try:
        stack.start(natives=False, proxies=hop.proxies)
        stack.wait_ready(timeout_s=60)
        port = stack.port(hop.port)
        result["quiet"] = asyncio.run(_normal(port, raw, phase_s))
        for kind, count in (("slowloris", slow), ("fd-flood", flood)):
            q: mp.Queue[dict] = mp.Queue()
            # The normal clients connect first; the attack starts a second later and ramps up
            # while they run (their keep-alive connections predate it, as a pool's would).
            attacker = mp.Process(target=_attack, args=(port, kind, count, phase_s + 2, q, 1.0), daemon=True)
            attacker.start()
            result[kind] = asyncio.run(_normal(port, raw, phase_s + 3))
            result[kind]["attacker"] = q.get(timeout=phase_s + 40)
            attacker.join(10)
            if attacker.is_alive():
                attacker.terminate()
            time.sleep(2)
    finally:
        stack.stop()
        shutil.rmtree(run, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.slowloris", description=__doc__.splitlines()[2])
    p.add_argument("--hop", default=",".join(MEASURABLE))
    p.add_argument("--phase-s", type=float, default=20.0)
    p.add_argument("--slow", type=int, default=1000)
    p.add_argument("--flood", type=int, default=6000)
    p.add_argument("--port-base", type=int, default=17000)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    wanted = a.hop.split(",")
    if set(wanted) - set(MEASURABLE) or a.phase_s <= 0 or not 0 < a.slow <= 20_000 or not 0 < a.flood <= 20_000:
        p.error(f"--hop is a list of {', '.join(MEASURABLE)}; --phase-s > 0; --slow and --flood in 1..20000")
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.flood + 1000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.flood + 1000), hard))
    results = []
    for name in wanted:
        try:
            r = run_hop(name, a.port_base, a.phase_s, a.slow, a.flood)
        except (RuntimeError, OSError) as exc:
            print(f"slowloris: error: {exc}", file=sys.stderr)
            return 2
        results.append(r)
        for phase in ("quiet", "slowloris", "fd-flood"):
            f = r[phase]
            att = f.get("attacker", {})
            print(
                f"{name:<11} {phase:<10} p50 {f['p50_ms']:>6} ms  p99 {f['p99_ms']:>6} ms  max {f['max_ms']:>7} ms  "
                f"{f['requests']:>6} keep-alive req ({f['keepalive_failed']} failed {f['keepalive_failures'] or ''})  new-conn {f['fresh_ok']} ok / "
                f"{f['fresh_failed']} failed" + (f"  attacker: {att}" if att else ""),
                flush=True,
            )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
