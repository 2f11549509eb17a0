"""Show and change resilience policies of the running topology, live, per service and per
location: `edge` (the gateway's own calls) or `mesh` (the sidecars' calls).

  gatemesh policy show [SERVICE] [--at edge|mesh|both] [--json]
  gatemesh policy set SERVICE --at edge|mesh|both pattern.field=value ...
        e.g. gatemesh policy set catalog --at mesh breaker.enabled=false
             gatemesh policy set '*' --at both timeout.attempt_timeout_s=300ms
  gatemesh policy off SERVICE --at ... [PATTERN ...]    every pattern (or those named) disabled
  gatemesh policy preset NAME [SERVICE] --at ...        envoy, istio, linkerd, hystrix, resilience4j, gatemesh
  gatemesh policy reset SERVICE --at ...                back to the defaults
"""

from __future__ import annotations

import argparse
import json

from gatemesh.policy import PATTERN_NAMES, Policy, PolicyError, PolicyTable, all_off
from gatemesh.policy_client import PolicyClient, PolicyClientError
from gatemesh.presets import PRESETS, preset
from gatemesh.topology.counts import SERVICES

from ._common import CliError, add_name_argument, control_of

HELP = "show or change resilience policies live (edge and/or mesh)"
ORDER = 50
EXTRA_ARGS = True  # settings may come after --at


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("action", choices=["show", "set", "off", "preset", "reset", "presets"])
    p.add_argument("args", nargs="*", help="SERVICE and settings, see above")
    p.add_argument("--at", default=None, help="edge, mesh or both (default: both for show, required otherwise)")
    p.add_argument("--json", action="store_true", help="print JSON (show)")
    add_name_argument(p)


def _client(name: str) -> PolicyClient:
    return PolicyClient.from_status(control_of(name).status())


def _summary(policy: Policy) -> str:
    d = policy.to_dict()
    parts = []
    for pattern in PATTERN_NAMES:
        section = d[pattern]
        on = section.get("enabled", True)
        if not on:
            parts.append(f"{pattern}=off")
            continue
        knobs = {
            "timeout": lambda s: f"attempt {s['attempt_timeout_s']}s/request {s['request_timeout_s']}s",
            "retry": lambda s: f"{s['max_attempts']} attempts on {_statuses(s['retry_on_statuses'])}",
            "budget": lambda s: f"{s['ratio']:.0%}+{s['min_retries_per_s']}/s",
            "breaker": lambda s: (
                f"{s['consecutive_failures']} consecutive or {s['failure_rate_threshold']:.0%} of {s['window_size']}, open {s['open_s']}s"
            ),
            "concurrency": lambda s: f"max {s['max_in_flight']}",
            "balancer": lambda s: s["kind"],
            "outlier": lambda s: (
                f"{s['consecutive_errors']} errors, eject {s['base_ejection_s']}s, cap {s['max_ejection_percent']}%, "
                f"panic below {s.get('panic_threshold_percent', 0):g}% healthy"
            ),
            "health_check": lambda s: (
                f"GET {s['path']} every {s['interval_s']}s, out after {s['unhealthy_threshold']} misses"
            ),
            "fallback": lambda s: "last good" if s.get("serve_last_good") else "default",
        }[pattern]
        try:
            parts.append(f"{pattern}: {knobs(section)}")
        except (KeyError, TypeError):
            parts.append(f"{pattern}=on")
    return "\n      ".join(parts)


def _statuses(codes: list[int]) -> str:
    """Status codes as a person writes them: 500-599 as 5xx, runs as ranges (502-504)."""
    left, out = sorted(codes), []
    for century in range(100, 600, 100):
        if all(c in left for c in range(century, century + 100)):
            out.append(f"{century // 100}xx")
            left = [c for c in left if not century <= c < century + 100]
    run: list[int] = []
    for c in [*left, None]:
        if c is not None and run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(
                str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" if len(run) > 2 else f"{run[0]},{run[1]}"
            )
        run = [c] if c is not None else []
    return ",".join(out)


def _known_service(service: str) -> str:
    """A typo (`catalgo`) must not silently create a policy for a service that does not exist."""
    if service != "*" and service not in SERVICES:
        raise CliError(
            f"unknown service {service!r}; the services are: {', '.join(SERVICES)} (or '*' for every service)"
        )
    return service


def run(args: argparse.Namespace) -> int:
    if args.action == "presets":
        for name in sorted(PRESETS):  # every pattern, one per line: nothing cut off
            print(f"  {name}:\n      {_summary(PRESETS[name])}")
        return 0
    if args.action != "show" and args.args and args.action != "preset":
        _known_service(args.args[0])
    if args.action == "preset" and len(args.args) > 1:
        _known_service(args.args[1])
    client = _client(args.name)
    try:
        if args.action == "show":
            shown = client.show(args.at or "both")
            services = args.args or None
            if args.json:
                print(json.dumps(shown, indent=2))
                return 0
            for loc, table in shown.items():
                print(f"{loc}:")
                t = PolicyTable.from_dict(table)
                for svc in services or ["*", *t.services()]:
                    print(f"  {svc}:\n      {_summary(t.get(svc))}")
            return 0
        if args.at is None:
            raise CliError(f"'gatemesh policy {args.action}' needs --at edge, mesh or both")
        if not args.args and args.action != "preset":
            raise CliError(f"'gatemesh policy {args.action}' needs a SERVICE (or '*' for every service)")
        if args.action == "set":
            service, settings = args.args[0], args.args[1:]
            if not settings:
                raise CliError("give at least one setting, e.g. breaker.enabled=false")
            done = client.set(service, args.at, settings=settings)
        elif args.action == "off":
            service, patterns = args.args[0], args.args[1:]
            unknown = [p for p in patterns if p not in PATTERN_NAMES]
            if unknown:
                raise CliError(f"unknown pattern(s) {', '.join(unknown)}; patterns: {', '.join(PATTERN_NAMES)}")
            if patterns:
                done = client.set(
                    service, args.at, overrides={p: {"enabled": False} for p in patterns if p != "balancer"}
                )
            else:
                done = client.replace(service, args.at, all_off())
        elif args.action == "preset":
            if not args.args:
                raise CliError(f"name a preset: {', '.join(sorted(PRESETS))}")
            try:
                chosen = preset(args.args[0])
            except KeyError as exc:
                raise CliError(str(exc).strip("'\"")) from None
            service = args.args[1] if len(args.args) > 1 else "*"
            done = client.replace(service, args.at, chosen)
        else:  # reset
            service = args.args[0]
            client.reset(service, args.at)
            print(f"gatemesh: {service} policy reset to the defaults at {args.at}")
            return 0
    except (PolicyClientError, PolicyError) as exc:
        raise CliError(str(exc)) from None
    for loc, policy in done.items():
        print(f"gatemesh: {service} at {loc} now:\n      {_summary(policy)}")
    return 0
