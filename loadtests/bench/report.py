"""The benchmark's table: every figure of every hop, and each as a ratio to HAProxy's
figure from the same run."""

from __future__ import annotations

from statistics import median
from typing import Any

from .stack import BASELINE, HOPS

# (key, column title, format, lower is better?)
COLUMNS = (
    ("rps", "req/s c=32", "{:,.0f}", False),
    ("cpu_us", "proxy CPU µs/req", "{:.1f}", True),
    ("paced_p50_ms", "p50 @rate ms", "{:.3f}", True),
    ("paced_p99_ms", "p99 @rate ms", "{:.3f}", True),
    ("c1_p50_ms", "p50 c=1 ms", "{:.3f}", True),
    ("c1_p99_ms", "p99 c=1 ms", "{:.3f}", True),
)


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over the rounds of one hop's figures (rounds are interleaved across hops)."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples if s.get(key) is not None]
        if not values:
            out[key] = None
        elif isinstance(values[0], (int, float)):
            out[key] = median(values)
        else:
            out[key] = values[-1]
    return out


def with_ratios(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    base = rows.get(BASELINE)
    direct = rows.get("direct")
    for name, row in rows.items():
        ratios = {}
        for key, *_ in COLUMNS:
            b = base.get(key) if base else None
            ratios[key] = row[key] / b if row.get(key) is not None and b else None
        # Paired ratios (median over rounds of hop ÷ the HAProxy run just before it) when measured.
        if row.get("cpu_vs_ref") is not None:
            ratios["cpu_us"] = row["cpu_vs_ref"]
        if row.get("rps_vs_ref") is not None:
            ratios["rps"] = row["rps_vs_ref"]
        row["vs_haproxy"] = ratios
        if ratios.get("cpu_us") is not None:
            row["cpu_per_proxy_vs_haproxy"] = ratios["cpu_us"] / len(row["proxies"])
        if direct and row.get("c1_p50_ms") is not None and name != "direct":
            row["added_p50_ms"] = row["c1_p50_ms"] - direct["c1_p50_ms"]
            row["added_p50_ms_per_proxy"] = row["added_p50_ms"] / max(1, len(row["proxies"]))
    return rows


def table(rows: dict[str, dict[str, Any]]) -> str:
    """Markdown: value (×HAProxy) per column."""
    head = ["hop", "proxies"] + [title for _, title, _, _ in COLUMNS] + ["CPU per proxy ×HAProxy", "added p50/proxy ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in rows.items():
        cells = [name, str(len(row["proxies"]))]
        for key, _, fmt, _ in COLUMNS:
            v, r = row.get(key), row["vs_haproxy"].get(key)
            if v is None:
                cells.append("–")
            elif r is None or name == BASELINE:
                cells.append(fmt.format(v))
            else:
                cells.append(f"{fmt.format(v)} ({r:.2f}×)")
        per = row.get("cpu_per_proxy_vs_haproxy")
        cells.append("–" if per is None else f"{per:.2f}×")
        added = row.get("added_p50_ms_per_proxy")
        cells.append("–" if added is None else f"{added:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def legend() -> str:
    return "\n".join(f"- `{h.name}`: {h.what}" for h in HOPS)
