"""The parts of one benchmark run beyond the wrk table: callgrind instruction counts per
hop (instructions.py), what tracing costs a hop at off / 1% / 100% (tracing.py), and
start-up and memory of the `edge-mesh` topology per catalog count, with tracing off and
(when Jaeger is installed) on (scale.py), each printed as its own table and returned for
the JSON and history.

    python -m loadtests.bench --tls --instructions --tracing --scale 1,3,10,30   # everything, one run

Each part starts and stops its own processes (the wrk stack is down by then), so their
CPU never overlaps the wrk measurements.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from . import instructions, scale, tlscount, tracing
from .stack import HOPS


def run_instructions(code: Path, port_base: int, n: int = 2000) -> list[dict[str, Any]]:
    """Instructions per request of each measurable hop, compiled and pure Python (needs valgrind)."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("valgrind (with callgrind_control) not found; apt-get install valgrind")
    hops = [h for h in HOPS if h.name in instructions.MEASURABLE]
    return instructions.count_all(hops, n, port_base, code, list(instructions.MODES))


def run_tls_instructions(port_base: int, n: int = 2000, handshakes: int = 100) -> list[dict[str, Any]]:
    """Instructions per request with and without mTLS, HAProxy beside (tlscount.py; valgrind)."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("valgrind (with callgrind_control) not found; apt-get install valgrind")
    return tlscount.run_all([r.name for r in tlscount.ROWS], n, handshakes, port_base)


def run_tracing(port_base: int, n: int = 2000) -> tuple[float | None, list[dict[str, Any]]]:
    """Instructions per request with tracing off / 1% / 100%, spans to a real Jaeger (valgrind)."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("valgrind (with callgrind_control) not found; apt-get install valgrind")
    return tracing.count_all(list(tracing.DEFAULT_HOPS), n, port_base)


def run_scale(catalogs: list[int], port_base: int) -> list[dict[str, Any]]:
    """Start-up and memory of edge-mesh at each catalog count (this checkout's runner): with
    tracing off, then with Jaeger and 100% sampling when Jaeger is installed, as `gatemesh up`
    runs it; the difference is what tracing costs in memory."""
    results = scale.measure_all(catalogs, port_base, jaeger=False)
    if scale.jaeger_available():
        results += scale.measure_all(catalogs, port_base, jaeger=True)
    return results


def instructions_table(results: list[dict[str, Any]]) -> str:
    pure = {r["hop"]: r["per_request"] for r in results if r.get("mode") == "pure"}
    lines = ["| hop | runs | instructions/request | × pure Python | requests |", "|---|---|---|---|---|"]
    for r in results:
        base = pure.get(r["hop"])
        ratio = f"{r['per_request'] / base:.2f}×" if base else "–"
        lines.append(f"| {r['hop']} | {r.get('mode', 'pure')} | {r['per_request']:,.0f} | {ratio} | {r['requests']} |")
    return "\n".join(lines)
