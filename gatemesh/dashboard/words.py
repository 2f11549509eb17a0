"""Every state in words: the accessible names the page puts on its nodes and edges, so a
screen reader (and a browser test) reads what the eye sees, e.g.
``pricing-1: breaker open at the gateway, ejected at the gateway (24 s left), 0.0 calls/s``.
"""

from __future__ import annotations

from typing import Any

PLACES = {"edge": "at the gateway", "mesh": "in the mesh"}


def pct(x: float | None) -> str:
    return "no calls" if x is None else f"{100 * x:.0f}% success"


def ms(x: float | None) -> str:
    return "-" if x is None else (f"{x * 1000:.0f} ms" if x >= 0.001 else f"{x * 1000:.1f} ms")


def breaker(place: str, b: dict[str, Any] | None) -> str | None:
    """``{"state": "open", "open": 1, "of": 2}`` → "breaker open in the mesh (1 of 2 sidecars)"."""
    if not b:
        return None
    text = f"breaker {b['state'].replace('_', '-')} {PLACES[place]}"
    if b.get("of", 1) > 1 and b["state"] != "closed":
        text += f" ({b['count']} of {b['of']} sidecars)"
    return text


def instance(i: dict[str, Any]) -> str:
    says: list[str] = []
    if i.get("alive") is False:
        says.append("killed (not running)")
    elif i.get("paused"):
        says.append("paused (answers nothing)")
    if i.get("up") is False and i.get("alive") is not False and not i.get("paused"):
        says.append("its app does not answer")
    if i.get("sidecar") == "killed":
        says.append("its sidecar is killed")
    elif i.get("sidecar") == "paused":
        says.append("its sidecar is paused")
    if i.get("proxy_down"):
        says.append("its Toxiproxy proxy is down (connections refused)")
    for t in i.get("toxics", []):
        says.append(f"{t} on its wire")
    if i.get("misbehave"):
        says.append(f"misbehaving ({i['misbehave']})")
    if i.get("registered") is False and i.get("alive") is not False:
        says.append("not in the registry")
    for place in ("edge", "mesh"):
        text = breaker(place, (i.get("breaker") or {}).get(place))
        if text:
            says.append(text)
        left = (i.get("ejected") or {}).get(place)
        if left is not None:
            says.append(f"ejected {PLACES[place]} ({left:.0f} s left)")
    if not says or all(s.startswith("breaker closed") for s in says):
        says.insert(0, "healthy")
    says.append(f"{i.get('rps', 0):.1f} calls/s, {pct(i.get('success'))}")
    return f"{i['name']}: " + ", ".join(says)


def edge(e: dict[str, Any]) -> str:
    text = f"{e['from_label']} to {e['to_label']}: {e['rps']:.1f} requests/s, {pct(e.get('success'))}"
    if e.get("p50") is not None:
        text += f", p50 {ms(e['p50'])}, p99 {ms(e['p99'])}"
    return text


def proxy(p: dict[str, Any]) -> str:
    if not p.get("up"):
        state = "killed" if p.get("alive") is False else ("paused" if p.get("paused") else "not answering")
        return f"{p['name']}: down ({state})"
    text = (
        f"{p['name']}: up, {p['retries_s']:.1f} retries/s, {p['fail_fast_s']:.1f} fail-fast answers/s, "
        f"{p['in_flight']} in flight"
    )
    if p.get("budget"):
        text += f", retry budget {p['budget']}"
    return text


def service(s: dict[str, Any]) -> str:
    up = sum(1 for i in s["instances"] if i.get("alive") is not False)
    off = [f"{pat} {PLACES[place]}" for place, pats in (s.get("off") or {}).items() for pat in pats]
    text = f"{s['name']}: {up} of {len(s['instances'])} instances running"
    return text + (", " + ", ".join(off) if off else ", patterns as by default")


def simple(name: str, up: bool | None, extra: str = "") -> str:
    return f"{name}: {'up' if up else 'down'}" + (f", {extra}" if extra else "")
