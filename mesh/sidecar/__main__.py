"""python -m mesh.sidecar --service S --instance ID --app HOST:PORT --inbound-port P --outbound-port P
--advertise HOST:PORT --control-plane URL [--ttl-s 3] [--expose]"""

from __future__ import annotations

import argparse
import os
import re

from gatemesh import tracing
from gatemesh.address import split_address
from gatemesh.runtime import fatal, run, setup_logging
from gatemesh.security.credentials import APP_SECRET_ENV, BOOTSTRAP_ENV
from gatemesh.security.tls import MODES, MTLS_ENV

from .app import INBOUND_TIMEOUT_ENV, INBOUND_TIMEOUT_S, Sidecar, SidecarConfig

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _addr(value: str, flag: str) -> tuple[str, int]:
    try:
        return split_address(value)
    except ValueError as exc:
        fatal("sidecar", f"{flag}: {exc}")


def main() -> None:
    p = argparse.ArgumentParser(prog="sidecar", description="gatemesh sidecar proxy")
    p.add_argument("--service", required=True)
    p.add_argument("--instance", required=True)
    p.add_argument("--app", required=True, help="host:port of the local app")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--inbound-port", type=int, required=True)
    p.add_argument("--outbound-port", type=int, required=True)
    p.add_argument("--advertise", required=True, help="host:port others dial (the instance's Toxiproxy listener)")
    p.add_argument("--control-plane", required=True, help="control plane URL, e.g. http://127.0.0.1:8500")
    p.add_argument("--ttl-s", type=float, default=3.0)
    p.add_argument("--expose", action="store_true", help="apply API management (sidecar-gateway topology)")
    p.add_argument(
        "--mtls",
        choices=MODES,
        default=os.environ.get(MTLS_ENV, "off"),
        help=f"inbound mutual TLS (default ${MTLS_ENV}, else off): permissive takes TLS and plain, strict TLS only",
    )
    a = p.parse_args()
    for flag, value in (("--service", a.service), ("--instance", a.instance)):
        if not ID_RE.match(value):
            fatal("sidecar", f"{flag} {value!r} must be lower-case letters, digits, '.', '_' or '-' (1-63 chars)")
    for flag, port in (("--inbound-port", a.inbound_port), ("--outbound-port", a.outbound_port)):
        if not 0 < port < 65536:
            fatal("sidecar", f"{flag} must be from 1 to 65535, got {port}")
    if not a.control_plane.startswith("http://"):
        fatal("sidecar", f"--control-plane must be an http:// URL, got {a.control_plane!r}")
    if not 0 < a.ttl_s <= 300:
        fatal("sidecar", f"--ttl-s must be in (0, 300] seconds, got {a.ttl_s}")
    raw_timeout = os.environ.get(INBOUND_TIMEOUT_ENV, str(INBOUND_TIMEOUT_S))
    try:
        inbound_timeout_s = float(raw_timeout)
    except ValueError:
        inbound_timeout_s = -1.0
    if not 0 < inbound_timeout_s <= 3600:
        fatal("sidecar", f"${INBOUND_TIMEOUT_ENV} must be seconds in (0, 3600], got {raw_timeout!r}")
    cfg = SidecarConfig(
        service=a.service,
        instance=a.instance,
        app=_addr(a.app, "--app"),
        host=a.host,
        inbound_port=a.inbound_port,
        outbound_port=a.outbound_port,
        advertise=a.advertise,
        control_plane=a.control_plane.rstrip("/"),
        ttl_s=a.ttl_s,
        expose=a.expose,
        bootstrap_token=os.environ.get(BOOTSTRAP_ENV) or None,  # the runner's handoff, read at the process edge
        mtls=a.mtls,
        app_secret=os.environ.get(APP_SECRET_ENV) or None,  # shared with its app only (gatemesh.runner.trust)
        inbound_timeout_s=inbound_timeout_s,
    )
    if a.mtls != "off" and not cfg.bootstrap_token:
        fatal("sidecar", f"--mtls {a.mtls} needs a bootstrap token in ${BOOTSTRAP_ENV} to get a certificate")
    _addr(a.advertise, "--advertise")
    try:
        tracer = tracing.from_env(f"sidecar:{a.instance}", f"{a.service}-sidecar", a.instance)
    except ValueError as exc:
        fatal("sidecar", str(exc))
    setup_logging(f"sidecar:{a.instance}")
    run(Sidecar(cfg, tracer=tracer).run, "sidecar")


if __name__ == "__main__":
    main()
