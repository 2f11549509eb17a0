"""``python -m gatemesh.k8s.launch --definition FILE COMPONENT``: run one component of a
topology inside a pod, exactly as the definition says.

Every Python container of a rendering runs this, so one Pod template serves every
instance of a kind: a StatefulSet's pod is named after its instance (``catalog-2``: the
StatefulSet starts its ordinals at 1), the template passes ``$(POD_NAME)`` (the downward
API) as COMPONENT, or ``sidecar-$(POD_NAME)`` for the sidecar container, and this
module rebuilds the topology from the definition file (the ConfigMap
``gatemesh-definition``: the topology's name, port plan, counts and options) and
``exec``s that component's own command line. A pod beyond the rendered count (the
StatefulSet scaled up) rebuilds the topology with the count raised to its ordinal
(``rescale``): nothing already planned moves, so its ports are the ones the process
runner would give it.

Before the ``exec`` it writes the definition's files the component reads into the run
directory (the gateway's config, the dashboard's parts file) and the component's health
URL to ``HEALTH_FILE``, which the container's probes read (a per-instance port cannot be
written into a template that every instance shares).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from gatemesh.topology import Component, Topology, TopologyError
from gatemesh.topology.model import CONTROLPLANE

from . import definition as _definition
from .definition import RUN_DIR, rebuild

PROG = "gatemesh.k8s.launch"


def prepare(topology: Topology, name: str, run_dir: Path) -> list[str]:
    """Write the component's files and health file; return its command line."""
    try:
        component = topology.component(name)
    except KeyError:
        known = ", ".join(c.name for c in topology.components)
        raise TopologyError(f"the {topology.name} topology has no component {name!r}; it has: {known}") from None
    run_dir.mkdir(parents=True, exist_ok=True)
    for rel, text in topology.files.items():
        if f"{{run_dir}}/{rel}" in component.args:
            (run_dir / rel).write_text(text)
    url = urlsplit(component.health_url)
    Path(_definition.HEALTH_FILE).write_text(f"{url.hostname} {url.port} {url.path or '/'}\n")
    return component.command(python=sys.executable, run_dir=str(run_dir)) + trust_args(topology, component)


def trust_args(topology: Topology, component: Component) -> list[str]:
    """The control plane's trust flags here. No credential handoff to pods yet (issue 15:
    the process runner has one), so writes stay open, said explicitly; the Toxiproxy API
    is still never a registrable address."""
    if component.kind != CONTROLPLANE:
        return []
    return ["--open", "--forbid-address", urlsplit(topology.endpoints.toxiproxy_api).netloc]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m {PROG}", description="Run one component of a topology in a pod.")
    p.add_argument("--definition", type=Path, required=True, help="the definition JSON (ConfigMap)")
    p.add_argument("--run-dir", type=Path, default=Path(RUN_DIR))
    p.add_argument("component", help="catalog-2, sidecar-catalog-2, controlplane, gateway, dashboard")
    args = p.parse_args(argv)
    try:
        data = json.loads(args.definition.read_text())
        argv_out = prepare(rebuild(data, args.component), args.component, args.run_dir)
    except (OSError, ValueError, TopologyError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except TypeError as e:  # a field this image's definition code does not know
        print(
            f"{PROG}: error: the definition was rendered by another gatemesh than this image's ({e}); "
            "render and build the image from the same checkout",
            file=sys.stderr,
        )
        return 2
    print(f"{PROG}: {args.component}: {' '.join(argv_out)}", flush=True)
    os.execvp(argv_out[0], argv_out)
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
