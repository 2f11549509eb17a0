"""The benchmark's JSON history: one line per run, so a change compares with the last one.

    .gatemesh/bench-history.jsonl     (local, like every other run artefact; --history FILE)

Each line is a JSON object: when, which code (`git describe`), the load average, and
whichever parts the run measured — `rows` (the wrk table), `instructions` (callgrind,
per hop) and `scale` (start-up and memory per catalog count); the mTLS rows (`--tls`) are
rows like the others, and carry `cpu_vs_plain` too (their cost over their plain twin);
`tls_instructions` holds tlscount.py's callgrind counts with and without mTLS.
`compare` prints, for each figure that the last entry also has, the new value and its
ratio to the old one, so a regression shows as a ratio above 1.00× without reading two
tables side by side.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .stack import REPO

DEFAULT_PATH = REPO / ".gatemesh" / "bench-history.jsonl"


def last(path: Path) -> dict[str, Any] | None:
    """The most recent entry, or None (no file, or nothing readable in it)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by an interrupted run
        if isinstance(entry, dict):
            return entry
    return None


def append(path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Add `entry` (stamped with the time) as one line; returns what was written."""
    entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **entry}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(entry, default=str) + "\n")
    return entry


def _figures(entry: dict[str, Any]) -> dict[str, float]:
    """The comparable figures of an entry, flat: name → value (lower is better for all)."""
    out: dict[str, float] = {}
    for hop, row in (entry.get("rows") or {}).items():
        for key in ("cpu_us", "cpu_vs_ref", "cpu_vs_plain", "c1_p50_ms", "c1_one_core_p50_ms"):
            if isinstance(row.get(key), (int, float)):
                out[f"{hop} {key}"] = float(row[key])
    for r in entry.get("instructions") or []:
        out[f"{r['hop']} instructions/request"] = float(r["per_request"])
    for r in entry.get("tls_instructions") or []:  # tlscount.py's driver: keep-alive without a handshake
        out[f"{r['hop']} instructions/request (tlscount)"] = float(r["per_request"])
    for r in (entry.get("tracing") or {}).get("results") or []:
        out[f"{r['hop']} tracing {r['tracing']} instructions/request"] = float(r["per_request"])
    for r in entry.get("scale") or []:
        k = f"{r['catalog']}{' traced' if r.get('jaeger') else ''}"  # --scale measures both
        out[f"catalog×{k} start-up s"] = float(r["startup_s"])
        out[f"catalog×{k} PSS MiB"] = r["total"]["pss_kib"] / 1024
        out[f"catalog×{k} RSS MiB"] = r["total"]["rss_kib"] / 1024
        for kind, v in sorted(r["per_kind"].items()):
            if v.get("count"):
                out[f"catalog×{k} {kind} PSS MiB each"] = v["pss_kib"] / 1024 / v["count"]
    return out


def compare(previous: dict[str, Any] | None, now: dict[str, Any]) -> str:
    """The figures both entries have: new value and new ÷ old (lower is better)."""
    if previous is None:
        return "history: no earlier run to compare with"
    old, new = _figures(previous), _figures(now)
    shared = [k for k in new if k in old and old[k]]
    if not shared:
        return "history: the last run measured none of the same figures"
    lines = [
        f"history: against the run of {previous.get('at', '?')} ({previous.get('code', '?')}, "
        f"load {float((previous.get('loadavg') or [0])[0]):.2f}):",
        "| figure | last | now | now ÷ last |",
        "|---|---|---|---|",
    ]
    for k in shared:
        lines.append(f"| {k} | {old[k]:,.2f} | {new[k]:,.2f} | {new[k] / old[k]:.3f}× |")
    return "\n".join(lines)
