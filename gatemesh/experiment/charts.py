"""The charts (matplotlib, Agg backend: no display needed).

- ``timeline-<arm>.png``: one arm over time: answers per second (complete, degraded,
  failed), p95 latency, calls the proxies sent to the faulted service; the fault window
  shaded, breaker transitions / ejections / budget refusals / endpoint changes marked;
- ``compare.png``: every arm on the same axes: pages answered per second (%), p95
  latency, calls sent to the service per second;
- ``metric.png``: the pattern's metric during the fault, per arm, for all pages and for
  each half (composed at the edge, composed in the mesh);
- ``matrix.png`` (``experiment all``): the share of the fault's harm each pattern undid on its
  metric, per placement, for all pages and for the half the placement reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

ARM_COLORS = {
    "off": "#555555",
    "edge": "#1f77b4",
    "mesh": "#d95f02",
    "frozen": "#555555",
    "live": "#1b9e77",
    "closed": "#555555",
    "open": "#7570b3",
}
OK, DEGRADED, FAILED = "#4daf4a", "#ff9f1c", "#e41a1c"
FAULT_SHADE = "#f4cccc"
EVENT_STYLE: dict[str, tuple[str, Any, str]] = {  # kind -> (color, linestyle, legend label)
    "breaker-open": ("#e41a1c", "--", "breaker opened"),
    "breaker-half-open": ("#ff7f00", ":", "breaker half-open"),
    "breaker-closed": ("#4daf4a", "--", "breaker closed"),
    "ejected": ("#984ea3", "--", "instance ejected"),
    "returned": ("#984ea3", ":", "instance returned"),
    "ejection-capped": ("#984ea3", "-.", "ejection capped"),
    "retry-budget-exhausted": ("#a65628", "-", "retry refused (budget)"),
    "endpoints-changed": ("#377eb8", "-", "endpoints changed"),
    "control-plane-lost": ("#000000", ":", "control plane lost"),
    "control-plane-back": ("#000000", "--", "control plane back"),
}
ROUTE_LABELS = {
    "/api/products/[id]": "pages composed at the edge",
    "/api/storefront/[id]": "pages composed in the mesh",
    "all": "all pages",
    "all calls": "all calls",
    "edge calls": "the gateway's calls (edge)",
    "mesh calls": "the storefront sidecars' calls (mesh)",
}
plt.rcParams.update(
    {
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
    }
)


def _shade(ax: Any, timeline: Mapping[str, float], label: bool = False) -> None:
    ax.axvspan(
        timeline["fault_on_s"],
        timeline["fault_off_s"],
        color=FAULT_SHADE,
        alpha=0.6,
        zorder=0,
        label="fault in force" if label else None,
    )


def _events(axes: Sequence[Any], events: Sequence[Mapping[str, Any]]) -> list[str]:
    kinds: list[str] = []
    for e in events:
        style = EVENT_STYLE.get(e["kind"])
        if style is None:
            continue
        color, ls, _ = style
        lw = 0.6 if e["kind"] == "retry-budget-exhausted" else 1.2
        for ax in axes:
            ax.axvline(e["t"], color=color, linestyle=ls, linewidth=lw, alpha=0.85, zorder=1)
        if e["kind"] not in kinds:
            kinds.append(e["kind"])
    return kinds


def _ms_axis(ax: Any, values: Sequence[float | None]) -> None:
    ax.set_ylabel("p95 latency (ms)")
    real = [v for v in values if v]
    if real and max(real) / max(1.0, min(real)) > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def arm_timeline(
    path: Path, title: str, series: Mapping[str, Any], result: Mapping[str, Any], service: str, faulty: Sequence[str]
) -> None:
    answers, calls, tl = series["answers"], series["calls"], result["timeline"]
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, constrained_layout=True)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    t = answers["t"]
    ax = axes[0]
    _shade(ax, tl, label=True)
    ax.stackplot(
        t,
        answers["ok"],
        answers["degraded"],
        answers["failed"],
        colors=[OK, DEGRADED, FAILED],
        labels=["complete pages", "degraded pages", "failed"],
        step="post",
        alpha=0.9,
    )
    ax.set_ylabel("answers per second")
    ax.set_title("Answers per second, by outcome (red: failures per second)")
    ax.legend(loc="upper left", fontsize=8, ncol=4, framealpha=0.9)
    ax = axes[1]
    _shade(ax, tl)
    ax.plot(
        t,
        [v if v is not None else float("nan") for v in answers["p95_ms"]],
        color="#333333",
        drawstyle="steps-post",
        linewidth=1.5,
    )
    _ms_axis(ax, answers["p95_ms"])
    ax.set_title("p95 latency of the answers in each second")
    ax = axes[2]
    _shade(ax, tl)
    if calls["t"]:
        same = all(abs(a - b) < 0.5 for a, b in zip(calls["calls"], calls["calls_to_faulty"], strict=False))
        if same:  # every instance is faulty: one line says it
            ax.plot(
                calls["t"],
                calls["calls"],
                color=FAILED,
                linewidth=1.5,
                label=f"to {service} (every instance faulty: {', '.join(faulty)})",
            )
        else:
            ax.plot(calls["t"], calls["calls"], color="#1f77b4", linewidth=1.5, label=f"to all {service} instances")
            ax.plot(
                calls["t"],
                calls["calls_to_faulty"],
                color=FAILED,
                linewidth=1.5,
                label=f"to the faulty: {', '.join(faulty)}",
            )
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_ylabel("calls per second")
    ax.set_title(f"Calls the gateway and the storefront's sidecars sent to {service} (counted as each ends)")
    ax.set_xlabel("seconds since the load began")
    ax.set_xlim(0, max(t[-1] + 1 if t else 1, tl["duration_s"]))
    ax.set_ylim(bottom=0)
    kinds = _events(axes, result.get("events", []))
    if kinds:
        handles = [
            Line2D([0], [0], color=EVENT_STYLE[k][0], linestyle=EVENT_STYLE[k][1], label=EVENT_STYLE[k][2])
            for k in kinds
        ]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            fontsize=9,
            ncol=min(5, len(handles)),
            title="the proxies' events (vertical lines)",
            title_fontsize=9,
            frameon=False,
        )
    fig.savefig(path)
    plt.close(fig)


def metric_curve(metric: Mapping[str, Any], s: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """The pattern's metric second by second (requests by the second they were sent in)."""
    key, answers, calls = metric["key"], s["answers"], s["calls"]
    nan = float("nan")
    if key in answers.get("sent", {}):
        scale = 100.0 if metric["unit"] == "%" else 1.0
        return answers["t"], [v * scale if v is not None else nan for v in answers["sent"][key]]
    if key == "amplification":
        return calls["t"], [v if v is not None else nan for v in calls["amplification"]]
    if key == "calls_per_page":
        sent = answers.get("sent", {}).get("requests", [])
        values = []
        for t, c in zip(calls["t"], calls["calls"], strict=False):
            i = int(t)
            values.append(c / sent[i] if 0 <= i < len(sent) and sent[i] else nan)
        return calls["t"], values
    return [], []


def compare(
    path: Path,
    title: str,
    arms: Sequence[Mapping[str, Any]],
    series: Mapping[str, Mapping[str, Any]],
    faulty: Sequence[str],
    metric: Mapping[str, Any],
) -> None:
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, constrained_layout=True)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    _shade(axes[0], arms[0]["timeline"], label=True)
    for ax in axes[1:]:
        _shade(ax, arms[0]["timeline"])
    all_p95: list[float | None] = []
    for result in arms:
        s = series[result["arm"]]
        a = s["answers"]
        color = ARM_COLORS.get(result["arm"], None)
        t, values = metric_curve(metric, s)
        axes[0].plot(
            t,
            values,
            color=color,
            linewidth=1.8,
            drawstyle="steps-post" if t == a["t"] else "default",
            label=result["label"],
        )
        axes[1].plot(
            a["t"],
            [v if v is not None else float("nan") for v in a["p95_ms"]],
            color=color,
            linewidth=1.5,
            drawstyle="steps-post",
            label=result["label"],
        )
        all_p95 += a["p95_ms"]
        if s["calls"]["t"]:
            axes[2].plot(
                s["calls"]["t"], s["calls"]["calls_to_faulty"], color=color, linewidth=1.5, label=result["label"]
            )
    pct = metric["unit"] == "%"
    better = "lower is better" if metric["lower_is_better"] else "higher is better"
    axes[0].set_ylabel(metric["label"] + (" (%)" if pct else ""), fontsize=9)
    if pct:
        axes[0].set_ylim(-3, 103)
    else:
        axes[0].set_ylim(bottom=0)
    axes[0].set_title(f"The pattern's metric, second by second: {metric['label']} ({better})")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(labels),
        fontsize=10,
        frameon=False,
        title="a gap in a line: nothing was sent in that second (every Locust user was waiting for an answer)",
        title_fontsize=8,
    )
    _ms_axis(axes[1], all_p95)
    axes[1].set_title("p95 latency of the answers in each second")
    axes[2].set_ylabel("calls per second")
    axes[2].set_ylim(bottom=0)
    axes[2].set_title(
        f"Calls sent to the faulty instance{'s' if len(faulty) > 1 else ''} ({', '.join(faulty)}), counted as each ends"
    )
    axes[2].set_xlabel("seconds since the load began (the fault is shaded)")
    fig.savefig(path)
    plt.close(fig)


def open_vs_closed(
    path: Path, runs: Sequence[tuple[str, str, Mapping[str, Any], Mapping[str, Any]]], slow_s: float
) -> None:
    """``runs``: (key, label, result, series) for the closed and the open loop of one fault."""
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, constrained_layout=True)
    fig.suptitle("The same fault, measured by a closed loop and by an open loop", fontsize=13, fontweight="bold")
    _shade(axes[0], runs[0][2]["timeline"], label=True)
    for ax in axes[1:]:
        _shade(ax, runs[0][2]["timeline"])
    for key, label, _result, s in runs:
        a, color = s["answers"], ARM_COLORS.get(key)
        sent = a["sent"]["requests"]
        slow = [
            round(n * share) if share is not None else 0
            for n, share in zip(sent, a["sent"]["slow_share"], strict=False)
        ]
        axes[0].plot(a["t"], sent, color=color, linewidth=1.8, drawstyle="steps-post", label=label)
        axes[1].plot(a["t"], slow, color=color, linewidth=1.8, drawstyle="steps-post")
        axes[2].plot(
            a["t"],
            [v if v is not None else float("nan") for v in a["p95_ms"]],
            color=color,
            linewidth=1.5,
            drawstyle="steps-post",
        )
    axes[0].set_ylabel("requests sent")
    axes[0].set_title("Requests sent per second: the closed loop stops sending while its users wait")
    axes[1].set_ylabel("slow requests sent")
    axes[1].set_title(f"Requests slower than {slow_s:g} s, by the second they were sent in")
    axes[2].set_title("p95 latency of the answers in each second")
    _ms_axis(axes[2], [v for *_x, s in runs for v in s["answers"]["p95_ms"]])
    axes[2].set_xlabel("seconds since the load began (the fault is shaded)")
    for ax in axes[:2]:
        ax.set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=10, frameon=False)
    fig.savefig(path)
    plt.close(fig)


def metric_bars(
    path: Path,
    title: str,
    metric: Mapping[str, Any],
    arms: Sequence[Mapping[str, Any]],
    values: Mapping[str, Mapping[str, float | None]],
) -> None:
    """``values[arm][group]``: group ``all`` and each route label."""
    groups = list(next(iter(values.values())).keys())
    fig, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    width = 0.8 / max(1, len(arms))
    pct = metric["unit"] == "%"
    for i, result in enumerate(arms):
        vals = [values[result["arm"]].get(g) for g in groups]
        shown = [(v * 100 if pct else v) if v is not None else 0 for v in vals]
        xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(groups))]
        bars = ax.bar(xs, shown, width * 0.95, color=ARM_COLORS.get(result["arm"]), label=result["label"])
        for bar, v in zip(bars, vals, strict=False):
            text = "n/a" if v is None else (f"{v * 100:.0f}%" if pct else f"{v:.2f}")
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=9,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(range(len(groups)), [ROUTE_LABELS.get(g, g) for g in groups])
    better = "lower is better" if metric["lower_is_better"] else "higher is better"
    ax.set_ylabel(f"{metric['label']}{' (%)' if pct else ''}")
    ax.set_title(f"{title}\n{metric['label']} during the fault ({better})")
    if pct:
        ax.set_ylim(0, 112)
    else:
        ax.set_ylim(0, max([(v or 0) for vs in values.values() for v in vs.values()] + [0.1]) * 1.2)
    fig.legend(loc="outside lower center", ncol=len(arms), fontsize=10, frameon=False)
    fig.savefig(path)
    plt.close(fig)


def matrix(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows``: one per pattern: ``name``, ``metric`` (label) and ``arms``: {placement:
    {"all": share of the harm undone, "own": the same on the half that placement reaches}}."""
    placements = ["edge", "mesh", "live"]
    labels = {"edge": "on at the edge", "mesh": "on in the mesh", "live": "discovery live"}
    fig, ax = plt.subplots(figsize=(11, 1.6 + 0.8 * len(rows)), constrained_layout=True)
    height = 0.36
    used: set[str] = set()
    for row_i, row in enumerate(rows):
        present = [p for p in placements if p in row["arms"]]
        for k, p in enumerate(present):
            y = row_i + (k - (len(present) - 1) / 2) * height
            values = row["arms"][p]
            v = values.get("all")
            shown = 100 * v if v is not None else 0
            ax.barh(y, shown, height * 0.9, color=ARM_COLORS[p], label=labels[p] if p not in used else None)
            used.add(p)
            ax.annotate(
                "n/a" if v is None else f"{shown:.0f}%",
                (max(shown, 0), y),
                va="center",
                ha="left",
                fontsize=8,
                xytext=(3, 0),
                textcoords="offset points",
            )
            own = values.get("own")
            if own is not None:
                ax.plot(
                    [100 * own],
                    [y],
                    marker="D",
                    color="black",
                    markersize=5,
                    linestyle="none",
                    label="the half its place reaches" if "own" not in used else None,
                )
                used.add("own")
    ax.set_yticks(range(len(rows)), [f"{r['name']}\n({r['metric']})" for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvline(100, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xlim(
        min(
            -5, min([100 * v for r in rows for a in r["arms"].values() for v in a.values() if v is not None] + [0]) - 5
        ),
        112,
    )
    ax.set_xlabel(
        "share of the fault's harm the pattern undid on its metric (0% = as with the pattern off, 100% = as if no harm)"
    )
    ax.set_title("Each pattern, at the edge or in the mesh: how much of the fault's harm it undid")
    fig.legend(loc="outside lower center", ncol=4, fontsize=9, frameon=False)
    fig.savefig(path)
    plt.close(fig)
