"""Break a running topology on purpose, and mend it: network faults through its real
Toxiproxy, process faults through its supervisor, app faults through each service's
misbehave knob.

  gatemesh fault add catalog-1 latency --ms 2000 [--jitter-ms 100] [--stream upstream] [--toxicity 0.5]
  gatemesh fault add catalog-1 timeout                 # black hole (--ms N: close after N ms)
  gatemesh fault add orders-1 reset-peer [--timeout-ms 0]
  gatemesh fault add reviews-1 bandwidth --rate-kbps 1
  gatemesh fault add reviews-1 slicer --average-size-bytes 1 --delay-us 2000
  gatemesh fault add orders-1 limit-data --bytes 1
  gatemesh fault add reviews-1 down
  gatemesh fault add pricing-1 misbehave --error-rate 1 --error-status 503 [--delay-ms 0] [--seed 7]
  gatemesh fault add catalog-1 latency latency=400     # key=value works too (Toxiproxy's names)
  gatemesh fault add catalog-1 latency --ms 3000 --from 5 --to 15   # stays in the foreground
  gatemesh fault add orders-1 misbehave --error-status 503 --first-calls 3
  gatemesh fault kill catalog-2 | pause controlplane | resume controlplane | restart sidecar-pricing-1
  gatemesh fault misbehave pricing-1 --error-rate 0.5
  gatemesh fault remove catalog-1 [latency]            # one instance's faults (of one kind)
  gatemesh fault list [--json]
  gatemesh fault reset [--no-restart]                  # every fault off; killed processes restarted
  gatemesh fault kill catalog-2 --name k8s:gatemesh-edge-mesh   # on a cluster (docs/kubernetes.md)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gatemesh.faults import TOXICS, FaultError, FirstCalls, Flapping, Misbehave, Window
from gatemesh.faults.schedule import Schedule
from gatemesh.faults.toxics import settings as toxic_settings
from gatemesh.k8s.backend import faults_for

from ._common import CliError, add_name_argument

HELP = "inject faults into the running topology (network, process, app), list and reset them"
ORDER = 45

# Every network fault's name, options, help and key=value names come from the toxic
# registry (faults/toxics.py): adding a toxic there adds it here.
TOXIC_KINDS = {kind.replace("_", "-"): cls for kind, cls in TOXICS.items()}
NETWORK = (*TOXIC_KINDS, "down")
PROCESS = ("kill", "pause", "resume", "restart")
KINDS = NETWORK + ("misbehave",) + PROCESS
SCHEDULE_LIMIT_S = 3600.0  # a foreground schedule gives up after an hour
COMMON = ("stream", "toxicity")
MISBEHAVE = tuple(f for f in Misbehave.__dataclass_fields__)


def setting_names(kind: str) -> dict[str, str]:
    """key=value names a kind takes (its fields, and Toxiproxy's attribute names) → field."""
    if kind == "misbehave":
        return {f: f for f in MISBEHAVE}
    cls = TOXIC_KINDS.get(kind)
    if cls is None:
        return {}
    names = {f.metadata["api"]: f.name for f in toxic_settings(cls)}
    names.update({f.name: f.name for f in toxic_settings(cls)})
    return {**names, **{c: c for c in COMMON}}


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the usage lines of the docstring
    sub = p.add_subparsers(title="actions", metavar="ACTION", parser_class=type(p))

    add = sub.add_parser(
        "add",
        help="add a fault to an instance (or a process fault to a component)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument(
        "target", metavar="INSTANCE", help="an instance such as catalog-1 (a component for kill/pause/...)"
    )
    add.add_argument("kind", metavar="KIND", choices=KINDS, help=f"one of: {', '.join(KINDS)}")
    add.add_argument(
        "params", nargs="*", metavar="KEY=VALUE", help="the same settings as the options, e.g. latency=400"
    )
    _fault_options(add)
    add.set_defaults(action=_add)

    for kind in PROCESS:
        pk = sub.add_parser(kind, help=f"{kind} a component (instance, sidecar-*, controlplane, gateway, toxiproxy)")
        pk.add_argument("target", metavar="COMPONENT")
        if kind == "kill":
            pk.add_argument("--signal", default="SIGKILL", help="default SIGKILL (kill -9)")
        add_name_argument(pk)
        pk.set_defaults(action=_add, kind=kind, params=[])

    mb = sub.add_parser("misbehave", help="make an instance's app fail or slow down on purpose")
    mb.add_argument("target", metavar="INSTANCE")
    mb.add_argument("params", nargs="*", metavar="KEY=VALUE")
    _fault_options(mb)
    mb.set_defaults(action=_add, kind="misbehave")

    rm = sub.add_parser("remove", help="remove the faults on one instance (optionally only one kind)")
    rm.add_argument("target", metavar="INSTANCE")
    rm.add_argument("kind", metavar="KIND", nargs="?", choices=NETWORK + ("misbehave",))
    add_name_argument(rm)
    rm.set_defaults(action=_remove)

    ls = sub.add_parser("list", help="every fault in force now")
    ls.add_argument("--json", action="store_true", help="print JSON")
    add_name_argument(ls)
    ls.set_defaults(action=_list)

    rs = sub.add_parser("reset", help="remove every fault; resume paused and restart killed processes")
    rs.add_argument("--no-restart", action="store_true", help="leave killed processes dead")
    add_name_argument(rs)
    rs.set_defaults(action=_reset)


def _network_options() -> dict[str, tuple[type, list[str]]]:
    """One option per toxic field name, its help naming each toxic that takes it."""
    options: dict[str, tuple[type, list[str]]] = {}
    for kind, cls in TOXIC_KINDS.items():
        for f in toxic_settings(cls):
            kind_type = int if isinstance(f.default, int) else float
            entry = options.setdefault(f.name, (kind_type, []))
            entry[1].append(f"{kind}: {f.metadata['help']} (default {f.default:g})")
    return options


def _fault_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network faults")
    for name, (kind_type, helps) in _network_options().items():
        if name not in MISBEHAVE:  # delay_ms: one option for slow-close and misbehave, below
            g.add_argument(f"--{name.replace('_', '-')}", type=kind_type, help="; ".join(helps))
    g.add_argument(
        "--stream", choices=("downstream", "upstream"), help="downstream = answers (default), upstream = requests"
    )
    g.add_argument("--toxicity", type=float, help="share of connections affected, 0..1 (default 1)")
    a = p.add_argument_group("app faults (misbehave)")
    a.add_argument("--error-rate", type=float, help="share of requests failed, 0..1 (default 1)")
    a.add_argument("--error-status", type=int, help="status of a failure (default 500)")
    a.add_argument(
        "--delay-ms",
        type=float,
        help="misbehave: wait before answering (default 0); "
        + "; ".join(_network_options().get("delay_ms", (float, []))[1]),
    )
    a.add_argument("--seed", type=int, help="seed of the app's random source (or of --flap)")
    s = p.add_argument_group("schedule (the command stays in the foreground until it ends; Ctrl-C removes the fault)")
    s.add_argument("--from", dest="from_s", type=float, metavar="S", help="in force from S seconds from now ...")
    s.add_argument("--to", dest="to_s", type=float, metavar="S", help="... to S seconds from now")
    s.add_argument("--first-calls", type=int, metavar="N", help="only for the next N calls the instance receives")
    s.add_argument(
        "--flap",
        type=float,
        nargs=3,
        metavar=("PERIOD_S", "P", "DURATION_S"),
        help="on/off each PERIOD_S with probability P for DURATION_S (seeded by --seed)",
    )
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action is None:
        raise CliError(
            "say what to do: gatemesh fault add|kill|pause|resume|restart|misbehave|remove|list|reset "
            "(see 'gatemesh fault --help')"
        )
    try:
        return action(args)
    except FaultError as e:
        raise CliError(str(e)) from None


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """Options and key=value params merged (params win), values as numbers where they are."""
    values = {k: v for k, v in vars(args).items() if v is not None}
    names = setting_names(args.kind)
    for item in args.params or []:
        key, eq, raw = item.partition("=")
        dest = names.get(key.strip().replace("-", "_"))
        if not eq or dest is None:
            known = ", ".join(sorted(names)) or "none (this kind takes no settings)"
            raise CliError(f"bad setting {item!r}: write key=value with a key {args.kind} takes: {known}")
        raw = raw.strip()
        if dest == "stream":
            values[dest] = raw
            continue
        try:
            values[dest] = int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise CliError(f"bad setting {item!r}: {key} needs a number") from None
    return values


def _schedule(v: dict[str, Any]) -> Schedule | None:
    chosen = [k for k in ("from_s", "to_s", "first_calls", "flap") if k in v]
    if "flap" in chosen and len(chosen) > 1 or "first_calls" in chosen and len(chosen) > 1:
        raise CliError("choose one schedule: --from/--to, --first-calls or --flap")
    if "first_calls" in v:
        return FirstCalls(v["first_calls"])
    if "flap" in v:
        period, p, duration = v["flap"]
        return Flapping(period, p, int(v.get("seed") or 0), duration)
    if "from_s" in v or "to_s" in v:
        if "to_s" not in v:
            raise CliError("--from needs --to (the command waits in the foreground until the window ends)")
        return Window(v.get("from_s", 0.0), v["to_s"])
    return None


def _add(args: argparse.Namespace) -> int:
    v = _params(args)
    kind, target = args.kind, args.target
    faults = faults_for(args.name)
    if kind in PROCESS:
        if kind == "kill":
            faults.kill(target, v.get("signal", "SIGKILL"))
            print(
                f"gatemesh: killed {target} ({v.get('signal', 'SIGKILL')}); bring it back with: "
                f"gatemesh fault restart {target}"
            )
        elif kind == "pause":
            faults.pause(target)
            print(f"gatemesh: paused {target} (SIGSTOP); resume with: gatemesh fault resume {target}")
        elif kind == "resume":
            faults.resume(target)
            print(f"gatemesh: resumed {target}")
        else:
            faults.restart(target)
            print(f"gatemesh: restarted {target}")
        return 0
    schedule = _schedule(v)
    cls = TOXIC_KINDS.get(kind)
    if cls is not None:
        own = [f.name for f in toxic_settings(cls)] + list(COMMON)
        fault = faults.network(target, cls.kind, schedule=schedule, **{k: v[k] for k in own if k in v})
    elif kind == "down":
        fault = faults.down(target, schedule=schedule)
    else:
        fault = faults.misbehave(target, schedule=schedule, **{k: v[k] for k in MISBEHAVE if k in v})
    print(f"gatemesh: {fault.target}: {fault.description}")
    if schedule is None:
        print(f"  remove it with: gatemesh fault remove {fault.target} {kind}   (or: gatemesh fault reset)")
        return 0
    print("  following the schedule in the foreground; Ctrl-C removes the fault")
    try:
        if not faults.scheduler.wait_idle(SCHEDULE_LIMIT_S):
            fault.remove()
            raise CliError(f"the schedule did not end within {SCHEDULE_LIMIT_S:.0f}s; the fault was removed")
    except KeyboardInterrupt:
        fault.remove()
        print("gatemesh: interrupted; the fault was removed", file=sys.stderr)
        return 130
    print(f"gatemesh: {fault.target}: schedule over, the fault is off")
    return 0


def _remove(args: argparse.Namespace) -> int:
    faults = faults_for(args.name)
    name = faults.instance(args.target).name
    removed = faults.clear(args.target, args.kind)
    if removed:
        print(f"gatemesh: {name}: removed {', '.join(removed)}")
    else:
        print(f"gatemesh: {name}: no {args.kind + ' ' if args.kind else ''}fault to remove")
    return 0


def _list(args: argparse.Namespace) -> int:
    items = faults_for(args.name).list()
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("gatemesh: no faults in force")
        return 0
    width = max(len(i["target"]) for i in items)
    for i in items:
        print(f"  {i['target']:<{width}}  {i['kind']:<10}  {i['detail']}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    done = faults_for(args.name).reset(restart_dead=not args.no_restart)
    extra = []
    if done["resumed"]:
        extra.append("resumed " + ", ".join(done["resumed"]))
    if done["restarted"]:
        extra.append("restarted " + ", ".join(done["restarted"]))
    print(
        f"gatemesh: every fault removed in {time.monotonic() - t0:.1f}s" + (f" ({'; '.join(extra)})" if extra else "")
    )
    return 0
