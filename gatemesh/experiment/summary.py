"""Arms compared: the pattern's metric during the fault, per arm, against the control arm,
in numbers and in one sentence each (``summary.json`` is this, plus the arms' figures)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .designs import Design, Metric
from .load import LoadSpec
from .predict import predict

PROXY_KEYS = ("amplification", "calls_per_page", "attempts", "attempts_to_faulty", "retries", "budget_refusals")
# The half of the load a placement can protect: the pages it composes, the calls it makes.
OWN_ROUTE = {"edge": "/api/products/[id]", "mesh": "/api/storefront/[id]"}
OWN_WHERE = {
    ("edge", "pages"): "the pages the gateway composes",
    ("mesh", "pages"): "the pages the storefront composes",
    ("edge", "calls"): "the gateway's own calls",
    ("mesh", "calls"): "the storefront sidecars' own calls",
}


def own_value(result: Mapping[str, Any], key: str, location: str) -> float | None:
    """The metric on the half of the load ``location``'s pattern can reach."""
    if key in PROXY_KEYS:
        return ((result.get("proxy") or {}).get("by_location") or {}).get(location, {}).get(key)
    return metric_value(result, key, OWN_ROUTE[location])


MIN_POINTS = 0.03  # a share must move at least 3 percentage points to be measurable
RATE_LIMITED = "rate-limited"


def rate_limited(result: Mapping[str, Any]) -> int:
    """Requests of one arm the gateway refused with 429 ``rate-limited`` (its top reasons)."""
    reasons = (result.get("phases") or {}).get("all", {}).get("reasons") or {}
    return int(sum(n for reason, n in reasons.items() if RATE_LIMITED in str(reason)))


def rate_limit_sentence(results: Sequence[Mapping[str, Any]]) -> str | None:
    """One sentence when any arm was rate limited: its figures then measure the API key's
    limit as well as the pattern (issue 12: the demo key's limit and the load disagreed)."""
    hit = {r["arm"]: rate_limited(r) for r in results if rate_limited(r)}
    if not hit:
        return None
    arms = ", ".join(f"{n} in arm {arm}" for arm, n in hit.items())
    return (
        f"This run was rate limited: {arms} got 429 {RATE_LIMITED}, so the load exceeded the API key's "
        f"limit and those failures are the key's, not the pattern's; use fewer users or a key with a "
        f"higher limit."
    )


def metric_value(result: Mapping[str, Any], key: str, route: str | None = None) -> float | None:
    """The value of ``key`` during the fault window (of one page route, if given)."""
    if key in PROXY_KEYS:
        return result["proxy"].get(key) if route is None else None
    figures = result["phases"]["during"] if route is None else result["routes"].get(route, {})
    return figures.get(key)


def compare(metric: Metric, off: float | None, on: float | None) -> dict[str, Any]:
    """How ``on`` compares with ``off`` on ``metric``."""
    if off is None or on is None:
        return {
            "off": off,
            "on": on,
            "change": None,
            "relative": None,
            "improvement": None,
            "harm_undone": None,
            "better": False,
            "measurable": False,
        }
    change = on - off
    relative = change / abs(off) if off else (0.0 if change == 0 else None)  # from zero: no ratio
    improvement = None if relative is None else -relative if metric.lower_is_better else relative
    better = change < 0 if metric.lower_is_better else change > 0
    big_enough = (relative is None or abs(relative) >= metric.min_change) and (
        metric.unit != "%" or abs(change) >= MIN_POINTS
    )
    harm = metric.ideal - off  # how far the fault pushed the metric from where it should be
    harm_undone = change / harm if abs(harm) > 1e-9 else None
    return {
        "off": off,
        "on": on,
        "change": change,
        "relative": relative,
        "improvement": improvement,
        "harm_undone": harm_undone,
        "better": better,
        "measurable": better and big_enough,
    }


def describe_change(metric: Metric, c: Mapping[str, Any]) -> str:
    """ "67.1% → 98.9% (+31.8 points, +47%)" / "3.00x → 1.34x (−55%)"."""
    if c["change"] is None:
        return f"{metric.format(c['off'])} → {metric.format(c['on'])}"
    rel = c["relative"]
    rel_text = "" if rel is None else f"{rel * 100:+.0f}%"
    if metric.unit == "%":
        points = f"{c['change'] * 100:+.1f} points"
        inner = f"{points}, {rel_text}" if rel_text else points
    else:
        inner = rel_text or "from zero"
    return f"{metric.format(c['off'])} → {metric.format(c['on'])} ({inner.replace('-', '−')})"


def verdict_word(c: Mapping[str, Any]) -> str:
    if c["measurable"]:
        return "better"
    if c["better"]:
        return "slightly better (within noise)"
    if c["change"] is None:
        return "not measured"
    return "not better"


def plain_terms(control: Mapping[str, Any], result: Mapping[str, Any], design: Design) -> str:
    """The change in human terms (page latency, calls the faulty instances were spared) and
    the pattern's cost (recovery after the fault, pages lost after it), for the Result."""
    off, on = control["phases"]["during"], result["phases"]["during"]
    parts = [f"the median page took {_ms(off.get('p50_ms'))} without it and {_ms(on.get('p50_ms'))} with it"]
    seen_off, seen_on = control.get("calls_at_faulty"), result.get("calls_at_faulty")
    if seen_off is not None and seen_on is not None and seen_off > seen_on:
        parts.append(f"{', '.join(design.faulty)} received {seen_off - seen_on} fewer calls ({seen_off} → {seen_on})")
    lost_off = _lost_after(control)
    lost_on = _lost_after(result)
    rec_off, rec_on = control.get("time_to_recover_s"), result.get("time_to_recover_s")
    if rec_on is not None and rec_off is not None and rec_on > rec_off + 0.5:
        parts.append(
            f"the cost: pages took {rec_on:.1f} s to recover after the fault, against {rec_off:.1f} s without it"
        )
    elif lost_on > lost_off:
        parts.append(f"the cost: {lost_on} pages failed after the fault had ended, against {lost_off} without it")
    else:
        parts.append("no cost seen after the fault (recovery as quick as without it)")
    return ", ".join(parts)


def _lost_after(result: Mapping[str, Any]) -> int:
    after = result["phases"].get("after") or {}
    return round((after.get("requests") or 0) * (1.0 - (after.get("success_rate") or 0.0)))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def summarize(
    design: Design, results: Sequence[Mapping[str, Any]], load: LoadSpec, counts: Mapping[str, int] | None = None
) -> dict[str, Any]:
    metric = design.metric
    control = results[0]
    off = metric_value(control, metric.key)
    comparison: dict[str, Any] = {}
    sentences = []
    for result in results[1:]:
        c = compare(metric, off, metric_value(result, metric.key))
        c["routes"] = (
            {
                route: compare(
                    metric, metric_value(control, metric.key, route), metric_value(result, metric.key, route)
                )
                for route in control["routes"]
            }
            if metric.key not in PROXY_KEYS
            else {}
        )
        sentence = (
            f"{result['label'][0].upper()}{result['label'][1:]}, {metric.label} during the fault: "
            f"{describe_change(metric, c)}, {verdict_word(c)}"
        )
        location = result.get("location")
        if location in OWN_ROUTE:
            own = compare(metric, own_value(control, metric.key, location), own_value(result, metric.key, location))
            c["own"] = {**own, "where": OWN_WHERE[(location, "calls" if metric.key in PROXY_KEYS else "pages")]}
            if own["change"] is not None:
                sentence += f"; on {c['own']['where']}: {metric.format(own['off'])} → {metric.format(own['on'])}"
        sentence += "; " + plain_terms(control, result, design)
        prediction = predict(design, result, load.users, counts or {})
        if prediction is not None:
            c["prediction"] = prediction
            sentence += ". " + prediction["sentence"].rstrip(".")
        c["sentence"] = sentence + "."
        comparison[result["arm"]] = c
        sentences.append(c["sentence"])
    limited = rate_limit_sentence(results)
    if limited:
        sentences.append(limited)
    measured = [c for c in comparison.values()]
    all_better = bool(measured) and all(c["measurable"] for c in measured)
    any_better = any(c["measurable"] for c in measured)
    return {
        "experiment": design.name,
        "title": design.title,
        "question": design.question,
        "fault": design.fault,
        "service": design.service,
        "faulty": list(design.faulty),
        "why": design.why,
        "policies": {"base": design.base, "on": design.on},
        "load": {
            "model": load.model,
            "users": load.users,
            "arrival_rate": load.arrival_rate,
            "duration_s": load.duration_s,
            "request_timeout_s": load.request_timeout_s,
            "description": load.describe(),
        },
        "metric": {
            "key": metric.key,
            "label": metric.label,
            "unit": metric.unit,
            "lower_is_better": metric.lower_is_better,
            "ideal": metric.ideal,
            "min_change": metric.min_change,
        },
        "arms": {r["arm"]: dict(r) for r in results},
        "rate_limited": {r["arm"]: rate_limited(r) for r in results},
        "comparison": comparison,
        "verdict": {"all_better": all_better, "any_better": any_better, "sentence": " ".join(sentences)},
    }
