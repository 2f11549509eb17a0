"""Running experiments: one design (its arms in turn) or the whole matrix, on one lab."""

from __future__ import annotations

import importlib
import json
import shlex
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import report
from .arm import ExperimentError, Status, prepare, run_arm
from .designs import DESIGNS, SLOW_S, Design
from .lab import Lab, dump
from .load import LoadSpec
from .summary import PROXY_KEYS, metric_value, own_value, summarize

DEFAULT_DURATION_S = 30.0
DEFAULT_USERS = 10
QUICK_DURATION_S = 12.0
QUICK_USERS = 6


@dataclass(frozen=True)
class Options:
    at: str = "both"  # edge | mesh | both
    duration_s: float = DEFAULT_DURATION_S
    users: int = DEFAULT_USERS
    arrival_rate: float = 0.0  # > 0: open loop

    def load(self) -> LoadSpec:
        return LoadSpec(duration_s=self.duration_s, users=self.users, arrival_rate=self.arrival_rate)


class ProgressLine:
    """One line rewritten in place on a terminal; a line every few seconds otherwise."""

    def __init__(self, stream=None, every_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every_s = every_s
        self.prefix = ""
        self._last = 0.0
        self._width = 0

    def say(self, message: str) -> None:
        self.clear()
        print(message, file=self.stream, flush=True)

    def update(self, s: Status) -> None:
        now = time.monotonic()
        if not self.tty and now - self._last < self.every_s:
            return
        if self.tty and now - self._last < 0.2:
            return
        self._last = now
        answered = "—" if s.answered is None else f"{s.answered * 100:5.1f}%"
        text = f"{self.prefix} t={s.t:4.0f}/{s.duration_s:.0f}s  {s.phase:<16} answered {answered}  {s.rate:5.1f} req/s"
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._width = len(text)
        else:
            print(text, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def run_experiment(
    lab: Lab,
    design: Design,
    options: Options,
    out_dir: Path,
    progress: ProgressLine,
    command: str,
    counts: dict[str, int] | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Every arm of ``design`` in turn, then the report, charts and summary.json in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = counts or lab.counts()
    arms = design.arms(options.at)
    load = options.load()
    results = []
    t0 = time.monotonic()
    for i, arm in enumerate(arms, 1):
        progress.prefix = f"{label}{design.name} [{i}/{len(arms)} {arm.label}]"
        progress.say(f"{progress.prefix} preparing: faults off, policies set")
        prepare(lab, design, arm, counts)
        results.append(run_arm(lab, design, arm, load, out_dir / arm.name, progress.update))
        progress.clear()
        during = results[-1]["phases"]["during"]
        progress.say(
            f"{progress.prefix} done: during the fault {during['requests']} requests, "
            f"{(during['success_rate'] or 0) * 100:.1f}% answered, "
            f"{design.metric.label} {design.metric.format(metric_value(results[-1], design.metric.key))}"
        )
    lab.faults.reset()
    summary = summarize(design, results, load, counts)
    summary["wall_s"] = time.monotonic() - t0
    summary["command"] = command
    summary["lab"] = lab.describe()
    write_outputs(out_dir, summary, command)
    progress.say(f"{label}{design.name}: {summary['verdict']['sentence']}")
    return summary


def write_outputs(out_dir: Path, summary: dict[str, Any], command: str) -> None:
    from . import charts  # matplotlib: imported when the first chart is drawn (see preload_charts)

    design = DESIGNS[summary["experiment"]]
    arms = list(summary["arms"].values())
    series = {a["arm"]: json.loads((out_dir / a["arm"] / "series.json").read_text()) for a in arms}
    title = f"{design.title}: {design.fault.split(' (')[0].rstrip('.')}"
    for a in arms:
        charts.arm_timeline(
            out_dir / f"timeline-{a['arm']}.png",
            f"{design.title}: {a['label']}",
            series[a["arm"]],
            a,
            design.service,
            design.faulty,
        )
    charts.compare(out_dir / "compare.png", title, arms, series, design.faulty, summary["metric"])
    values = {}
    for a in arms:
        if design.metric.key in PROXY_KEYS:  # the proxies' figures: all calls, then each place's own
            values[a["arm"]] = {
                "all calls": metric_value(a, design.metric.key),
                **{f"{loc} calls": own_value(a, design.metric.key, loc) for loc in ("edge", "mesh")},
            }
        else:
            values[a["arm"]] = {"all": metric_value(a, design.metric.key)}
            for route in arms[0]["routes"]:
                values[a["arm"]][route] = metric_value(a, design.metric.key, route)
    charts.metric_bars(out_dir / "metric.png", design.title, summary["metric"], arms, values)
    dump(out_dir / "summary.json", summary)
    report.write(out_dir, report.experiment_document(summary, command), title)


def run_all(
    lab: Lab,
    options: Options,
    out_dir: Path,
    progress: ProgressLine,
    command: str,
    patterns: Sequence[str] | None = None,
    open_loop_check: bool = True,
) -> dict[str, Any]:
    """Every design, one after another, then the matrix report in ``out_dir``."""
    t0 = time.monotonic()
    counts = lab.counts()
    names = list(patterns or DESIGNS)
    summaries = []
    for i, name in enumerate(names, 1):
        summaries.append(
            run_experiment(
                lab,
                DESIGNS[name],
                options,
                out_dir / name,
                progress,
                f"{command} # {name}",
                counts,
                label=f"({i}/{len(names)}) ",
            )
        )
    co = None
    if open_loop_check and options.arrival_rate == 0 and "timeout" in names:
        co = coordinated_omission(
            lab, summaries[names.index("timeout")], options, out_dir / "open-loop", progress, counts
        )
    wall_s = time.monotonic() - t0
    rows = []
    for s in summaries:
        rows.append(
            {
                "name": s["experiment"],
                "metric": s["metric"]["label"],
                "arms": {
                    arm: {"all": c["harm_undone"], "own": (c.get("own") or {}).get("harm_undone")}
                    for arm, c in s["comparison"].items()
                },
            }
        )
    from . import charts

    charts.matrix(out_dir / "matrix.png", rows)
    matrix = {
        "wall_s": wall_s,
        "command": command,
        "lab": lab.describe(),
        "experiments": {
            s["experiment"]: {
                "metric": s["metric"],
                "comparison": s["comparison"],
                "verdict": s["verdict"],
                "fault": s["fault"],
            }
            for s in summaries
        },
        "all_better": all(s["verdict"]["all_better"] for s in summaries),
        "coordinated_omission": co,
    }
    dump(out_dir / "summary.json", matrix)
    report.write(out_dir, report.matrix_document(summaries, wall_s, command, co), "gatemesh experiments")
    return matrix


def coordinated_omission(
    lab: Lab,
    timeout_summary: dict[str, Any],
    options: Options,
    out_dir: Path,
    progress: ProgressLine,
    counts: dict[str, int],
) -> dict[str, Any]:
    """The timeout experiment's control arm again, as an open loop at the rate the closed
    loop reached before the fault: what the closed loop's slow period hid."""
    design = DESIGNS["timeout"]
    closed = timeout_summary["arms"]["off"]
    before = closed["phases"]["before"]
    rate = max(5.0, round(before["requests"] / max(1.0, closed["timeline"]["fault_on_s"])))
    arm = design.arms("edge")[0]
    progress.prefix = f"open loop check [{arm.label}, {rate:g} req/s]"
    progress.say(f"{progress.prefix} preparing")
    prepare(lab, design, arm, counts)
    spec = LoadSpec(duration_s=options.duration_s, users=2, arrival_rate=rate)
    result = run_arm(lab, design, arm, spec, out_dir, progress.update)
    progress.clear()
    lab.faults.reset()
    rows = []
    for label, r in (("closed loop (Locust's usual)", closed), (f"open loop, {rate:g} requests/s", result)):
        d, whole = r["phases"]["during"], r["phases"]["all"]
        rows.append(
            [
                label,
                str(d["requests"]),
                str(whole["requests"]),
                report._fmt_pct(whole["slow_share"]),
                report._fmt_ms(whole["p95_ms"]),
                report._fmt_ms(whole["p99_ms"]),
            ]
        )
    c, o = closed["phases"], result["phases"]
    sentence = (
        f"The timeout experiment's control arm (pricing-1 answers 2 s late, no timeout) again, as an open "
        f"loop at the rate the closed loop reached before the fault ({rate:g} requests/s). During the fault "
        f"the closed loop sent {c['during']['requests']} requests, the open loop {o['during']['requests']}: "
        f"the closed loop's users sat waiting on slow pages instead of sending. Over the whole run that "
        f"made the slow period count for less: {report._fmt_pct(c['all']['slow_share'])} of the closed "
        f"loop's requests were slower than {SLOW_S:g} s (p95 {report._fmt_ms(c['all']['p95_ms'])} ms), "
        f"against {report._fmt_pct(o['all']['slow_share'])} of the open loop's (p95 "
        f"{report._fmt_ms(o['all']['p95_ms'])} ms), for the same fault."
    )
    out = {
        "rate": rate,
        "rows": rows,
        "sentence": sentence,
        "closed": {
            "during_requests": c["during"]["requests"],
            "slow_share": c["all"]["slow_share"],
            "p95_ms": c["all"]["p95_ms"],
            "p99_ms": c["all"]["p99_ms"],
        },
        "open": {
            "during_requests": o["during"]["requests"],
            "slow_share": o["all"]["slow_share"],
            "p95_ms": o["all"]["p95_ms"],
            "p99_ms": o["all"]["p99_ms"],
        },
    }
    from . import charts

    closed_series = json.loads((out_dir.parent / "timeout" / "off" / "series.json").read_text())
    open_series = json.loads((out_dir / "series.json").read_text())
    charts.open_vs_closed(
        out_dir / "open-vs-closed.png",
        [
            ("closed", "closed loop (Locust's usual)", closed, closed_series),
            ("open", f"open loop, {rate:g} requests/s", result, open_series),
        ],
        SLOW_S,
    )
    dump(out_dir / "coordinated_omission.json", out)
    progress.say(sentence)
    return out


def preload_charts() -> threading.Thread:
    """Import matplotlib in the background (seconds on a busy machine) while the topology starts."""
    thread = threading.Thread(
        target=importlib.import_module, args=("gatemesh.experiment.charts",), name="preload-charts", daemon=True
    )
    thread.start()
    return thread


def command_line(argv: Sequence[str]) -> str:
    return "gatemesh " + " ".join(shlex.quote(a) for a in argv)


__all__ = ["ExperimentError", "Options", "ProgressLine", "command_line", "preload_charts", "run_all", "run_experiment"]
