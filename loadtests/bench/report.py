"""The benchmark's table: every figure of every hop, and each as a ratio to HAProxy's
figure from the same run (a TLS row's to HAProxy with TLS: its `reference`); the TLS
rows also in a table of their own, beside their plain twins."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median
from typing import Any

from .stack import BASELINE, HOPS, Hop

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
    direct = rows.get("direct")
    for name, row in rows.items():
        base = rows.get(row.get("reference") or BASELINE)
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
        plain = rows.get(row.get("plain") or "")
        if plain and row.get("cpu_us") is not None and plain.get("cpu_us") and row.get("c1_p50_ms") is not None:
            # unpaired (ratio of medians): the twin ran in the same rounds, not right before
            row["cpu_vs_plain"] = row["cpu_us"] / plain["cpu_us"]
            row["cpu_added_us"] = row["cpu_us"] - plain["cpu_us"]
            row["c1_p50_added_ms"] = row["c1_p50_ms"] - plain["c1_p50_ms"]
        if direct and row.get("c1_p50_ms") is not None and name != "direct":
            row["added_p50_ms"] = row["c1_p50_ms"] - direct["c1_p50_ms"]
            row["added_p50_ms_per_proxy"] = row["added_p50_ms"] / max(1, len(row["proxies"]))
        one_core = row.get("c1_one_core_p50_ms")
        if direct and one_core is not None and direct.get("c1_one_core_p50_ms") is not None and name != "direct":
            added = one_core - direct["c1_one_core_p50_ms"]
            row["added_p50_one_core_ms_per_proxy"] = added / max(1, len(row["proxies"]))
    return rows


def table(rows: dict[str, dict[str, Any]]) -> str:
    """Markdown: value (×HAProxy) per column."""
    head = ["hop", "proxies"] + [title for _, title, _, _ in COLUMNS]
    head += ["CPU per proxy ×HAProxy", "added p50/proxy ms", "same, one core ms"]
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
        for key in ("added_p50_ms_per_proxy", "added_p50_one_core_ms_per_proxy"):
            added = row.get(key)
            cells.append("–" if added is None else f"{added:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tls_table(rows: dict[str, dict[str, Any]], names: Iterable[str]) -> str:
    """The mutual-TLS rows: CPU per request, paired with their reference (HAProxy with TLS),
    per proxy, and against their own plain twin (what TLS adds to that hop)."""
    head = [
        "hop",
        "proxies",
        "proxy CPU µs/req",
        "× reference",  # paired in a full run (the reference ran right before), of medians in --quick
        "per proxy ×",
        "× plain twin",
        "CPU added µs/req",
        "p50 c=1 ms",
        "p50 added vs plain ms",
        "handshakes /1k req",
        "proxy CPU busy",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(v: float | None, fmt: str) -> str:
        return "–" if v is None else fmt.format(v)

    for name in (n for n in names if n in rows):
        row = rows[name]
        ref = row["vs_haproxy"].get("cpu_us")
        cells = [
            name,
            str(len(row["proxies"])),
            f(row.get("cpu_us"), "{:.1f}"),
            f"{ref:.2f}× {row.get('reference')}" if ref is not None else "–",
            f(row.get("cpu_per_proxy_vs_haproxy"), "{:.2f}×"),
            f"{row['cpu_vs_plain']:.2f}× {row['plain']}" if row.get("cpu_vs_plain") is not None else "–",
            f(row.get("cpu_added_us"), "{:+.1f}"),
            f(row.get("c1_p50_ms"), "{:.3f}"),
            f(row.get("c1_p50_added_ms"), "{:+.3f}"),
            f(handshakes_per_1k(row), "{:.1f}"),
            f(row.get("proxy_cpu_share"), "{:.0%}"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def handshakes_per_1k(row: dict[str, Any]) -> float | None:
    """mTLS connections the strict sidecar accepted per 1,000 requests of the row (None: no
    strict sidecar on the row's path, e.g. HAProxy's own rows)."""
    if row.get("tls_handshakes") is None or not row.get("requests_total"):
        return None
    return row["tls_handshakes"] / row["requests_total"] * 1000


def legend(hops: Iterable[Hop] = HOPS) -> str:
    return "\n".join(
        f"- `{h.name}`: {h.what}" + ("" if h.reference == BASELINE else f" (ratios to `{h.reference}`)") for h in hops
    )


def tlscount_table(results: list[dict[str, Any]]) -> str:
    """tlscount.py's rows: instructions per request; against the row's twin (what TLS, or
    the handshake, adds) and against HAProxy's row of the same kind."""
    by = {r["hop"]: r["per_request"] for r in results}
    head = "| hop | instructions/request | × twin | added over twin | × HAProxy of the same kind |"
    lines = [head, "|---|---|---|---|---|"]
    for r in results:
        v, twin, native = r["per_request"], by.get(r.get("twin") or ""), by.get(r.get("native") or "")
        cells = [
            r["hop"],
            f"{v:,.0f}",
            f"{v / twin:.2f}× {r['twin']}" if twin else "–",
            f"{v - twin:+,.0f}" if twin else "–",
            f"{v / native:.2f}× {r['native']}" if native else "–",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
