"""From two poll rounds a second apart to the picture's data: nodes and edges with their
rates and states, each with its sentence (``words``). Pure: a ``Sample`` in, JSON out."""

from __future__ import annotations

from typing import Any

from gatemesh.policy import PATTERN_NAMES, Policy

from . import words
from .prom import delta, quantile
from .sample import Sample

SWITCHABLE = tuple(p for p in PATTERN_NAMES if p != "balancer")  # the balancer has no off switch
DEFAULT_ON = {p: bool(getattr(getattr(Policy(), p), "enabled", True)) for p in SWITCHABLE}
FAIL_FAST = (
    "circuit-open",
    "no-healthy-upstream",
    "retry-budget-exhausted",
    "overloaded",
    "timeout",
    "deadline-exceeded",
    "rate-limited",
)


def flow(reqs: dict, buckets_new: list | None, buckets_old: list | None, dt: float) -> dict[str, Any]:
    total = sum(reqs.values())
    ok = sum(v for (_, outcome), v in reqs.items() if outcome == "ok" or outcome in ("2xx", "3xx", "4xx"))
    return {
        "rps": total / dt,
        "success": (ok / total) if total else None,
        "p50": quantile(buckets_new or [], buckets_old, 0.5) if total else None,
        "p99": quantile(buckets_new or [], buckets_old, 0.99) if total else None,
    }


class ViewBuilder:
    def __init__(self) -> None:
        self.prev: Sample | None = None
        self.known_edges: dict[str, tuple[str, str, str]] = {}  # id -> (from, to, from's words), once seen

    def build(self, s: Sample) -> dict[str, Any]:
        prev = self.prev
        dt = max(0.2, s.at - prev.at) if prev else 1.0
        parts, st = s.parts, s.parts.status
        alive = {p.name: p for p in parts.parts}
        proxies = {p.name: p for p in parts.parts if p.kind in ("gateway", "sidecar")}
        gateway = next((n for n, p in proxies.items() if p.kind == "gateway"), None)

        def deltas(name: str) -> tuple[dict, dict, dict, Any, Any]:
            new = s.counters.get(name)
            old = prev.counters.get(name) if prev else new  # the first round: no rate yet
            if new is None:
                return {}, {}, {}, None, None
            return (
                delta(new.requests, old.requests if old else None),
                delta(new.attempts, old.attempts if old else None),
                delta(new.retries, old.retries if old else None),
                new,
                old,
            )

        proxy_nodes, edges = [], []
        attempts_by_inst: dict[str, list[float]] = {}
        mesh_reqs: dict[str, dict] = {}
        for name, p in proxies.items():
            reqs, atts, retries, new, old = deltas(name)
            ups = s.upstreams.get(name)
            fail_fast = sum(v for (_, outcome), v in reqs.items() if outcome in FAIL_FAST)
            budget = ""
            for info in (ups or {}).values():
                b = info.get("budget") or {}
                if b.get("enabled") and b.get("allowed"):
                    budget = f"{b.get('retries', 0)} of {b.get('allowed')} used"
            node = {
                "name": name,
                "kind": p.kind,
                "service": p.service,
                "up": ups is not None,
                "alive": p.alive,
                "paused": p.paused,
                "retries_s": sum(retries.values()) / dt,
                "fail_fast_s": fail_fast / dt,
                "budget": budget,
                "in_flight": sum(int(i.get("in_flight", 0)) for i in (ups or {}).values()),
            }
            node["label"] = words.proxy(node)
            proxy_nodes.append(node)
            for (u, target, result), v in atts.items():
                if u == "local":  # a sidecar's inbound hop: the callers' attempts already count it
                    continue
                a = attempts_by_inst.setdefault(target, [0.0, 0.0])
                a[0] += v
                a[1] += v if result.isdigit() and int(result) < 500 else 0.0
            by_up: dict[str, dict] = {}
            for (u, outcome), v in reqs.items():
                by_up.setdefault(u, {})[(u, outcome)] = v
            for u, r in by_up.items():
                if u == "local":
                    continue
                if name == gateway:
                    f = flow(r, new.buckets.get(u) if new else None, old.buckets.get(u) if old else None, dt)
                    edges.append(
                        {"id": f"gateway>{u}", "from": "gateway", "to": u, "from_label": "gateway", "to_label": u, **f}
                    )
                else:
                    merged = mesh_reqs.setdefault(u, {})
                    for k, v in r.items():
                        merged[k] = merged.get(k, 0.0) + v
        for u, r in mesh_reqs.items():
            f = flow(r, None, None, dt)
            edges.append(
                {"id": f"mesh>{u}", "from": "mesh", "to": u, "from_label": "the mesh (sidecars)", "to_label": u, **f}
            )
        if gateway is not None:  # the gateway routes to every service, traffic or not
            for svc_name in sorted({p.service for p in parts.of("service") if p.service}):
                self.known_edges.setdefault(f"gateway>{svc_name}", ("gateway", svc_name, "gateway"))
        for e in edges:
            self.known_edges[e["id"]] = (e["from"], e["to"], e["from_label"])
        have = {e["id"] for e in edges}
        for eid, (src, dst, src_label) in self.known_edges.items():  # quiet, or its proxy did not answer
            if eid not in have:
                edges.append(
                    {
                        "id": eid,
                        "from": src,
                        "to": dst,
                        "from_label": src_label,
                        "to_label": dst,
                        "rps": 0.0,
                        "success": None,
                        "p50": None,
                        "p99": None,
                    }
                )
        for e in edges:
            e["label"] = words.edge(e)

        registry = {
            svc: {i.get("id") for i in insts} for svc, insts in ((s.registry or {}).get("services") or {}).items()
        }
        tox = s.toxiproxy or {}
        services: dict[str, dict] = {}
        for p in parts.of("service"):
            svc = services.setdefault(p.service or "?", {"name": p.service, "instances": []})
            sidecar = alive.get(f"sidecar-{p.name}")
            side = None
            if sidecar is not None:
                side = "killed" if sidecar.alive is False else ("paused" if sidecar.paused else "running")
            proxy = tox.get(p.proxy or p.name) or {}
            toxics = [_toxic(t) for t in proxy.get("toxics") or []]
            mb = s.misbehave.get(p.name)
            inst: dict[str, Any] = {
                "name": p.name,
                "service": p.service,
                "alive": p.alive,
                "paused": p.paused,
                "sidecar": side,
                "up": mb is not None,
                "registered": (p.name in registry.get(p.service or "", set())) if s.registry else None,
                "proxy_down": bool(proxy) and not proxy.get("enabled", True),
                "toxics": toxics,
                "misbehave": _misbehave(mb),
                "breaker": {},
                "ejected": {},
            }
            att = attempts_by_inst.get(p.name, [0.0, 0.0])
            inst["rps"], inst["ok_rps"] = att[0] / dt, att[1] / dt
            inst["success"] = att[1] / att[0] if att[0] else None
            self._placements(inst, s, proxies, gateway)
            inst["label"] = words.instance(inst)
            svc["instances"].append(inst)
        for svc in services.values():
            svc["off"] = _off(s.policies, svc["name"])
            svc["label"] = words.service(svc)

        cp_up = s.registry is not None
        self.prev = s
        return {
            "at": s.at,
            "topology": st.get("topology"),
            "supervised": parts.supervised,
            "entry": st.get("entry"),
            "gateway": gateway,
            "parts": {
                "controlplane": {
                    "up": cp_up,
                    "label": words.simple(
                        "control plane",
                        cp_up,
                        f"{sum(len(v) for v in registry.values())} instances registered" if cp_up else "",
                    ),
                },
                "toxiproxy": {
                    "up": s.toxiproxy is not None,
                    "label": words.simple("Toxiproxy", s.toxiproxy is not None, f"{len(tox)} proxies"),
                },
            },
            "proxies": proxy_nodes,
            "edges": edges,
            "services": list(services.values()),
            "policies": {
                w: {svc["name"]: _enabled(t, svc["name"]) for svc in services.values()}
                for w, t in s.policies.items()
                if t is not None and (w == "edge" or parts.of("sidecar"))
            },
        }

    def _placements(self, inst: dict, s: Sample, proxies: dict, gateway: str | None) -> None:
        name, svc = inst["name"], inst["service"]
        mesh: dict[str, Any] = {"count": 0, "of": 0, "state": "closed"}
        mesh_left: float | None = None
        for proxy, ups in s.upstreams.items():
            info = (ups or {}).get(svc)
            if not info or name not in (info.get("endpoints") or {}):
                continue
            state = (info.get("instance_breakers") or {}).get(name, "closed")
            ejected = name in (info.get("ejected") or [])
            # the proxy says how long each ejection has left (`/-/upstreams`: ejected_s_left)
            left = float((info.get("ejected_s_left") or {}).get(name, 0.0)) if ejected else None
            if proxy == gateway:
                inst["breaker"]["edge"] = {"state": state}
                if ejected:
                    inst["ejected"]["edge"] = left
            else:
                mesh["of"] += 1
                if state != "closed":
                    mesh["count"] += 1
                    mesh["state"] = state if mesh["state"] != "open" else "open"
                if ejected:
                    mesh_left = max(mesh_left or 0.0, left or 0.0)
        if mesh["of"]:
            inst["breaker"]["mesh"] = mesh
        if mesh_left is not None:
            inst["ejected"]["mesh"] = mesh_left


def _toxic(t: dict) -> str:
    attrs = t.get("attributes") or {}
    kind = t.get("type", "?")
    if kind == "latency":
        text = f"latency {attrs.get('latency', 0)} ms"
    elif kind == "timeout":
        text = "black hole (timeout)" if not attrs.get("timeout") else f"timeout {attrs['timeout']} ms"
    else:
        text = kind.replace("_", " ") + " " + " ".join(f"{k}={v}" for k, v in attrs.items())
    return text.strip() + (" on requests" if t.get("stream") == "upstream" else "")


def _misbehave(mb: dict | None) -> str | None:
    if not mb or not (mb.get("error_rate") or mb.get("delay_ms")):
        return None
    text = f"{100 * float(mb.get('error_rate', 0)):.0f}% errors {mb.get('error_status', 500)}"
    return text + (f", +{mb['delay_ms']:g} ms" if mb.get("delay_ms") else "")


def _policy(table: dict | None, service: str) -> dict:
    if not table:
        return {}
    return table.get(service) or table.get("*") or {}


def _enabled(table: dict | None, service: str) -> dict[str, bool]:
    pol = _policy(table, service)
    return {p: bool((pol.get(p) or {}).get("enabled", DEFAULT_ON[p])) for p in SWITCHABLE}


def _off(policies: dict, service: str) -> dict[str, list[str]]:
    """Per placement, the patterns switched away from their defaults ("breaker off")."""
    return {
        w: [f"{p} {'on' if on else 'off'}" for p, on in _enabled(t, service).items() if on != DEFAULT_ON[p]]
        for w, t in policies.items()
        if t is not None
    }
