"""The reports: one document built once and written as Markdown and as HTML.

A document is a list of blocks (heading, paragraph, table, image, list, code); inline
``**bold**`` and `` `code` `` work in both renderings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gatemesh.tracing.examples import KINDS

from .charts import ROUTE_LABELS
from .designs import SLOW_S, Metric
from .summary import PROXY_KEYS, metric_value, verdict_word

Block = (
    tuple  # ("h1"|"h2"|"h3", text) ("p", text) ("ul", [items]) ("table", head, rows) ("img", src, alt) ("pre", text)
)

CO_NOTE = (
    "**Closed loop and coordinated omission.** Locust's users are a closed loop: each waits for its answer "
    "before sending the next request. When the system stalls, the users stall with it and send less, so the "
    "slow period contributes fewer samples than a real crowd would give it, and the percentiles look better "
    "than what people experienced (Gil Tene's *coordinated omission*). An open loop (`--load open --rate R`) "
    "keeps requests arriving at R per second and measures each from when it was due. Compare the arms of one "
    "report with each other, not with an open-loop run."
)


def _fmt_pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.1f}%"


def _fmt_ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def _fmt_num(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "n/a"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.{digits}f}"


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} s"


def experiment_document(summary: Mapping[str, Any], command: str) -> list[Block]:
    metric = _metric(summary)
    arms = list(summary["arms"].values())
    control = arms[0]
    tl = control["timeline"]
    doc: list[Block] = [("h1", f"{summary['title']}: `gatemesh experiment {summary['experiment']}`")]
    doc.append(("p", f"**Question.** {summary['question']}"))
    doc.append(("p", f"**Result.** {summary['verdict']['sentence']} {summary['why']}"))
    doc.append(
        (
            "p",
            f"**Fault.** {summary['fault']} In force from t={tl['fault_on_s']:.1f} s to "
            f"t={tl['fault_off_s']:.1f} s of each {tl['duration_s']:.0f} s arm (the middle third).",
        )
    )
    base = summary["policies"]["base"]
    doc.append(
        (
            "p",
            "**Arms.** " + "; ".join(f"*{a['label']}*" for a in arms) + ". The arms change the "
            f"policy of `{summary['service']}` only: the pattern's settings "
            f"`{_json(summary['policies']['on'])}`"
            + (f" on top of `{_json(base)}`, which every arm has" if base else "")
            + "; every other pattern and service is off (`gatemesh.policy.all_off`).",
        )
    )
    doc.append(
        (
            "p",
            f"**Load.** {summary['load']['description']}; product pages, half composed at the edge "
            "(`GET /api/products/{id}`: the gateway calls the four services) and half in the mesh "
            "(`GET /api/storefront/{id}`: the storefront calls them through its sidecar).",
        )
    )
    lab = summary.get("lab") or {}
    if lab.get("counts"):
        doc.append(
            (
                "p",
                f"**Topology.** {lab.get('topology')}: the gateway, the control plane, Toxiproxy and "
                + ", ".join(f"{s} ×{n}" for s, n in lab["counts"].items())
                + " (each instance with its sidecar and its Toxiproxy proxy), as local processes.",
            )
        )
    doc.append(("h2", "During the fault"))
    head = ["", *[a["label"] for a in arms]]
    during = [a["phases"]["during"] for a in arms]
    rows: list[list[str]] = []

    def row(label: str, values: Sequence[str], key: str | None = None) -> None:
        if key == metric.key:  # the same numbers, in the same format, as the Result sentence
            values = [metric.format(metric_value(a, key)) for a in arms]
            rows.append([f"**{label}** (the pattern's metric)", *[f"**{v}**" for v in values]])
        else:
            rows.append([label, *values])

    row("requests sent", [str(f["requests"]) for f in during])
    row("pages answered (complete + degraded)", [_fmt_pct(f["success_rate"]) for f in during], "success_rate")
    row("complete pages", [_fmt_pct(f["complete_rate"]) for f in during])
    row(f"pages answered within {SLOW_S:g} s", [_fmt_pct(f["answered_1s"]) for f in during], "answered_1s")
    row(f"pages slower than {SLOW_S:g} s", [_fmt_pct(f["slow_share"]) for f in during], "slow_share")
    row(
        "latency p50 / p95 / p99 (ms)",
        [f"{_fmt_ms(f['p50_ms'])} / {_fmt_ms(f['p95_ms'])} / {_fmt_ms(f['p99_ms'])}" for f in during],
    )
    row(
        "fail-fast answers (share of failures)",
        [f"{f['fail_fast']} ({_fmt_pct(f['fail_fast_share'])})" for f in during],
    )
    row("median time to fail (ms)", [_fmt_ms(f["failed_p50_ms"]) for f in during])
    faulty = ", ".join(summary["faulty"])
    row(f"calls received by {faulty} (their apps)", [_fmt_num(a["calls_at_faulty"]) for a in arms])
    row(f"calls the proxies sent to {faulty}", [_fmt_num(a["proxy"]["attempts_to_faulty"]) for a in arms])
    row(
        f"calls sent to {summary['service']} per page",
        [_fmt_num(a["proxy"]["calls_per_page"]) for a in arms],
        "calls_per_page",
    )
    row(
        f"attempts sent per call to {summary['service']} (above 1: retries; below 1: calls refused before the wire)",
        [_fmt_num(a["proxy"]["amplification"]) for a in arms],
        "amplification",
    )
    row(
        "… at the edge (gateway) / in the mesh (storefront sidecars)",
        [
            " / ".join(
                _fmt_num((a["proxy"].get("by_location") or {}).get(loc, {}).get("amplification"))
                for loc in ("edge", "mesh")
            )
            for a in arms
        ],
    )
    row(
        "retries sent / refused by the budget",
        [f"{_fmt_num(a['proxy']['retries'])} / {_fmt_num(a['proxy']['budget_refusals'])}" for a in arms],
    )
    row("time to trip (first reaction after the fault began)", [_fmt_s(a["time_to_trip_s"]) for a in arms])
    row("time to recover (after the fault ended)", [_fmt_s(a["time_to_recover_s"]) for a in arms])
    for kind in KINDS:  # trace ids during the fault, for `gatemesh trace ID` (none: it did not happen)
        row(f"example trace: {kind}", [str((a.get("traces") or {}).get(kind) or "—") for a in arms])
    predictions = [(summary["comparison"].get(a["arm"]) or {}).get("prediction") for a in arms]
    if any(predictions):
        row(
            "predicted by the config: attempts per call at its placement / time to trip",
            [
                (
                    "—"
                    if p is None
                    else f"{_fmt_num(p['attempts_per_call']['predicted'])} / "
                    f"{_fmt_s(p['time_to_trip_s']['predicted'])}"
                    + ("" if p["agree"] is None else " (agrees)" if p["agree"] else " (**disagrees**)")
                )
                for p in predictions
            ],
        )
    row("failure reasons (top)", [_reasons(f["reasons"]) for f in during])
    doc.append(("table", head, rows))
    doc.append(
        (
            "p",
            "A request counts in the window it was *sent* in. *Fail-fast*: a proxy refused at once "
            "(`circuit-open`, `no-healthy-upstream`, `retry-budget-exhausted`, `overloaded`). *Calls "
            "received*: the apps' own request counters (n/a when an instance was killed or removed). *Time "
            "to trip*: from the fault to the first breaker opening, ejection or budget refusal. *Time to "
            "recover*: from the end of the fault until pages sent in two seconds in a row were about as "
            "successful and fast as before it (— : not within the run). A page sent just before the fault "
            "ended can be answered because it ended (a black hole lets go when its toxic is removed); when "
            "every user of a closed loop is waiting, those few pages weigh: the timelines show them.",
        )
    )

    routes = list(control["routes"])
    if routes and metric.key not in ("amplification", "calls_per_page"):
        doc.append(("h2", "Where each placement helps"))
        head = ["pages", *[a["label"] for a in arms]]
        rows = []
        for route in routes:
            vals = []
            for a in arms:
                f = a["routes"].get(route)
                if f is None:
                    vals.append("n/a")
                    continue
                vals.append(
                    f"{metric.format(metric_value(a, metric.key, route))} "
                    f"(answered {_fmt_pct(f['success_rate'])}, p95 {_fmt_ms(f['p95_ms'])} ms)"
                )
            rows.append([ROUTE_LABELS.get(route, route), *vals])
        doc.append(("table", head, rows))
        doc.append(("p", f"{metric.label[0].upper()}{metric.label[1:]} during the fault, per half of the load."))

    doc.append(("h2", "Charts"))
    doc.append(("img", "metric.png", f"{metric.label} during the fault, per arm"))
    halves = (
        "all calls, the gateway's and the storefront sidecars'"
        if metric.key in PROXY_KEYS
        else "all pages and each half (composed at the edge, in the mesh)"
    )
    doc.append(
        (
            "p",
            f"**metric.png**: {metric.label} during the fault for each arm: {halves} ({{}}).".format(
                "lower is better" if metric.lower_is_better else "higher is better"
            ),
        )
    )
    doc.append(("img", "compare.png", "the arms over time"))
    doc.append(
        (
            "p",
            f"**compare.png**: every arm on the same time axis: {metric.label} second by second (by the "
            f"second a request was sent in), p95 latency, and the calls sent to the faulty instance(s) "
            f"({faulty}) per second; the fault is shaded.",
        )
    )
    for a in arms:
        doc.append(("img", f"timeline-{a['arm']}.png", f"{a['label']} over time"))
    doc.append(
        (
            "p",
            "**timeline-ARM.png**: one arm: answers per second by outcome, p95 latency, calls sent to "
            f"{summary['service']} (all instances and the faulty ones), with the proxies' events as "
            "vertical lines (breaker transitions, ejections, budget refusals, endpoint changes).",
        )
    )

    doc.append(("h2", "Events"))
    for a in arms:
        evs = a["events"]
        if not evs:
            doc.append(("p", f"*{a['label']}*: no breaker, ejection, budget or endpoint events."))
            continue
        doc.append(("p", f"*{a['label']}* (t in seconds since the load began):"))
        doc.append(
            (
                "table",
                ["t", "proxy", "event", "instance", "cause"],
                [[f"{e['t']:.1f}", e["proxy"] or "", e["kind"], e["instance"] or "", e["cause"] or ""] for e in evs],
            )
        )

    doc.append(("h2", "The whole run"))
    head = ["", *[a["label"] for a in arms]]
    rows = []
    for phase, label in (("before", "before the fault"), ("during", "during"), ("after", "after")):
        rows.append(
            [
                f"pages answered, {label}",
                *[f"{_fmt_pct(a['phases'][phase]['success_rate'])} of {a['phases'][phase]['requests']}" for a in arms],
            ]
        )
        rows.append([f"p95 latency (ms), {label}", *[_fmt_ms(a["phases"][phase]["p95_ms"]) for a in arms]])
    doc.append(("table", head, rows))
    doc.append(("p", CO_NOTE))
    doc.append(("h2", "Reproduce and raw data"))
    doc.append(("pre", command))
    doc.append(
        (
            "ul",
            [
                "`summary.json`: every figure above, per arm, plus the comparison (for machines and CI)",
                "`ARM/requests.csv`: one row per request (start, end, page, status, outcome, reason, latency)",
                "`ARM/locust_stats.csv`, `ARM/locust_stats_history.csv`, `ARM/locust_failures.csv`: Locust's own CSVs",
                "`ARM/result.json`, `ARM/events.json`, `ARM/series.json`: the arm's figures, the proxies' events, "
                "the per-second series behind the charts",
            ],
        )
    )
    return doc


def matrix_document(
    summaries: Sequence[Mapping[str, Any]], wall_s: float, command: str, co: Mapping[str, Any] | None
) -> list[Block]:
    doc: list[Block] = [("h1", "gatemesh experiments: each pattern, at the edge and in the mesh")]
    doc.append(
        (
            "p",
            f"{len(summaries)} experiments, the same load and the same kind of fault schedule in each "
            f"(fault during the middle third), run one after another on one edge+mesh topology in "
            f"**{wall_s / 60:.1f} minutes**. Each row: the pattern's own metric during the fault, "
            "with the pattern off and on, for all pages and for the half the pattern's place can "
            "protect (the pages the gateway composes for the edge, the storefront's for the mesh).",
        )
    )
    head = ["pattern", "fault", "metric (during the fault)", "off", "on at the edge", "on in the mesh", "verdict"]
    rows = []
    for s in summaries:
        metric = _metric(s)
        arms = list(s["arms"].values())
        off = metric_value(arms[0], metric.key)
        cells = {"edge": "—", "mesh": "—"}
        words = []
        for name, c in s["comparison"].items():
            text = f"{metric.format(c['on'])} ({_rel(c)})"
            own = c.get("own")
            if own and own.get("on") is not None:
                text += f"; {own['where']}: {metric.format(own['on'])}"
            if name in cells:
                cells[name] = text
            else:  # discovery: one "on" arm for every proxy
                cells = {"edge": text + " (every proxy)", "mesh": "(same arm)"}
            words.append(verdict_word(c))
        verdict = "better" if all(w == "better" for w in words) else ", ".join(words)
        off_text = metric.format(off) + ("" if arms[0]["label"] == "pattern off" else f" ({arms[0]['label']})")
        rows.append(
            [
                f"[{s['experiment']}]({s['experiment']}/report.md)",
                s["fault"].split(" (")[0].rstrip("."),
                metric.label,
                off_text,
                cells["edge"],
                cells["mesh"],
                verdict,
            ]
        )
    doc.append(("table", head, rows))
    doc.append(("img", "matrix.png", "improvement per pattern and placement"))
    doc.append(
        (
            "p",
            "**matrix.png**: for each pattern and placement, the share of the fault's harm the pattern "
            "undid on its metric: 0% = as bad as with the pattern off, 100% = the metric where it should be "
            "(every page answered, none slow, no retry, nothing sent to a dead service). The bar is for "
            "all pages (or all calls), the diamond for the half the placement can reach.",
        )
    )
    doc.append(("h2", "What the table says"))
    doc.append(("ul", [f"**{s['experiment']}**: {s['verdict']['sentence']}" for s in summaries]))
    doc.append(
        (
            "p",
            "In this topology the gateway composes half of the pages itself and the storefront composes "
            "the other half through its sidecar, so a pattern at the edge protects the first half and a "
            "pattern in the mesh the second: each report's *Where each placement helps* table shows it.",
        )
    )
    if co is not None:
        doc.append(("h2", "Closed loop vs open loop (coordinated omission)"))
        doc.append(("p", co["sentence"]))
        doc.append(
            (
                "table",
                [
                    "load model",
                    "requests sent during the fault",
                    "requests in the whole run",
                    f"slower than {SLOW_S:g} s (whole run)",
                    "p95 (ms, whole run)",
                    "p99 (ms, whole run)",
                ],
                co["rows"],
            )
        )
        doc.append(("img", "open-loop/open-vs-closed.png", "closed loop vs open loop over time"))
        doc.append(
            (
                "p",
                "**open-loop/open-vs-closed.png**: the two runs on one time axis: requests sent per "
                f"second, requests slower than {SLOW_S:g} s by the second they were sent in, and p95 "
                "latency; the fault is shaded.",
            )
        )
    doc.append(("p", CO_NOTE))
    doc.append(("h2", "Reproduce"))
    doc.append(("pre", command))
    return doc


def _metric(summary: Mapping[str, Any]) -> Metric:
    m = summary["metric"]
    return Metric(m["key"], m["label"], m["unit"], m["lower_is_better"], m["ideal"], m["min_change"])


def _rel(c: Mapping[str, Any]) -> str:
    rel = c.get("relative")
    if rel is None:
        return "from zero"
    return f"{rel * 100:+.0f}%".replace("-", "−")


def _reasons(reasons: Mapping[str, int]) -> str:
    if not reasons:
        return "—"
    return "; ".join(f"{k or 'unknown'} ×{v}" for k, v in list(reasons.items())[:3])


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(", ", ": "))


# --- rendering -----------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Sequence[Block]) -> str:
    out: list[str] = []
    for block in doc:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + block[1])
        elif kind == "p":
            out.append(block[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            head, rows = block[1], block[2]
            lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            out.append(f"![{block[2]}]({block[1]})")
        elif kind == "pre":
            out.append("```\n" + block[1] + "\n```")
    return "\n\n".join(out) + "\n"


_INLINE = re.compile(r"\*\*(.+?)\*\*|`(.+?)`|\*(.+?)\*|\[(.+?)\]\((.+?)\)")


def _inline_html(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        bold, code, em, link_text, link = m.groups()
        if bold is not None:
            out.append(f"<b>{_inline_html(bold)}</b>")
        elif code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif em is not None:
            out.append(f"<i>{_inline_html(em)}</i>")
        else:
            target = link[:-3] + ".html" if link.endswith(".md") else link
            out.append(f'<a href="{html.escape(target)}">{_inline_html(link_text)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, sans-serif; max-width: 1180px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code, pre { background: #f5f5f5; font-size: 0.92em; }
pre { padding: 0.7em; overflow-x: auto; }
"""


def to_html(doc: Sequence[Block], title: str) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
    ]
    for block in doc:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline_html(block[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline_html(block[1])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head, rows = block[1], block[2]
            out.append(
                "<table><thead><tr>"
                + "".join(f"<th>{_inline_html(h)}</th>" for h in head)
                + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{_inline_html(str(c))}</td>" for c in r) + "</tr>" for r in rows)
                + "</tbody></table>"
            )
        elif kind == "img":
            out.append(f"<p><img src='{html.escape(block[1])}' alt='{html.escape(block[2])}'></p>")
        elif kind == "pre":
            out.append(f"<pre>{html.escape(block[1])}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write(out_dir: Path, doc: Sequence[Block], title: str) -> None:
    (out_dir / "report.md").write_text(to_markdown(doc))
    (out_dir / "report.html").write_text(to_html(doc, title))
