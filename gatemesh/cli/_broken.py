"""What is broken now, for `gatemesh status`: faults in force, policies that differ from
the defaults, open breakers, ejections with their time left, processes paused or down.

Read live from where each thing lives (Toxiproxy and the apps through the fault API, the
proxies' `/-/upstreams`, the policy tables at both placements), so it also shows what
another terminal or the dashboard did. Every read has a short timeout: a dead part shows
as unreachable, it never hangs the status.
"""

from __future__ import annotations

from typing import Any

from gatemesh.faults import FaultError, Faults
from gatemesh.policy import Policy, PolicyTable
from gatemesh.policy_client import PolicyClient, PolicyClientError
from gatemesh.runner.webclient import HttpError, json_request

from ._show import command_name

_DEFAULTS = Policy().to_dict()


def broken_now(status: dict[str, Any], name: str) -> list[str]:
    lines: list[str] = []
    gm = command_name()
    for i in status.get("instances", []):
        if not i.get("alive"):
            lines.append(f"  {i['name']}: not running ({gm} fault restart {i['name']})")
        elif i.get("paused"):
            lines.append(f"  {i['name']}: paused ({gm} fault resume {i['name']})")
    try:
        for f in Faults.for_run(name).list():
            if f["kind"] not in ("dead", "pause"):  # listed above with the processes
                lines.append(f"  {f['target']}: {f['kind']} {f['detail']}".rstrip())
    except FaultError as exc:
        lines.append(f"  faults: unreadable ({exc})")
    lines += _overrides(PolicyClient.from_status(status))
    for base, label in _proxies(status):
        lines += _upstreams(base, label)
    return lines


def _overrides(client: PolicyClient) -> list[str]:
    out = []
    for at in client.locations("both"):
        try:
            table: PolicyTable = client.table(at)
        except PolicyClientError as exc:
            out.append(f"  policies at the {at}: unreadable ({exc})")
            continue
        for service in ["*", *table.services()]:
            changed = _changes(table.get(service).to_dict())
            if changed:
                out.append(f"  policy {service} at the {at}: {', '.join(changed)}")
    return out


def _changes(policy: dict[str, Any]) -> list[str]:
    return [
        f"{pattern}.{field}={value}"
        for pattern, section in policy.items()
        for field, value in section.items()
        if _DEFAULTS[pattern].get(field) != value
    ]


def _proxies(status: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(status.get("gateway_admin") or status["gateway"], "gateway")] if status.get("gateway") else []
    out += [
        (i["health"].rsplit("/health", 1)[0], i["name"])
        for i in status.get("instances", [])
        if i.get("kind") == "sidecar" and i.get("alive") and not i.get("paused") and i.get("health")
    ]
    return out


def _upstreams(base: str, label: str) -> list[str]:
    try:
        ups = json_request("GET", f"{base}/-/upstreams", timeout_s=1.0).get("upstreams", {})
    except (HttpError, OSError, AttributeError):
        return [f"  {label}: admin API unreachable"]
    out = []
    for service, up in sorted(ups.items()):
        if up.get("breaker", "closed") != "closed":
            out.append(f"  {label}: {service} breaker {up['breaker']}")
        for inst, state in sorted((up.get("instance_breakers") or {}).items()):
            if state != "closed":
                out.append(f"  {label}: {inst} breaker {state}")
        left = up.get("ejected_s_left") or {}
        for inst in up.get("ejected") or []:
            out.append(f"  {label}: {inst} ejected" + (f", {left[inst]:.0f} s left" if inst in left else ""))
        if (up.get("panic") or {}).get("in_panic"):
            out.append(f"  {label}: {service} in panic routing (too few healthy endpoints)")
    return out
