"""python -m gateway --config FILE"""

from __future__ import annotations

import argparse
import os

from gatemesh import tracing
from gatemesh.runtime import fatal, run, setup_logging
from gatemesh.security.credentials import BOOTSTRAP_ENV
from gatemesh.security.tls import MODES, MTLS_ENV

from .app import Gateway
from .config import ConfigError, load_config


def main() -> None:
    parser = argparse.ArgumentParser(prog="gateway", description="gatemesh API gateway")
    parser.add_argument("--config", required=True, help="gateway config file (JSON or YAML); see docs/contracts.md")
    args = parser.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        fatal("gateway", str(exc))
    try:
        tracer = tracing.from_env(config.proxy_name, "gateway", config.proxy_name)
    except ValueError as exc:
        fatal("gateway", str(exc))
    # mTLS to the sidecars: the topology's mode and the runner's bootstrap token, read at the process edge
    mtls = os.environ.get(MTLS_ENV, "off")
    if mtls not in MODES:
        fatal("gateway", f"${MTLS_ENV} must be one of {', '.join(MODES)}, got {mtls!r}")
    token = os.environ.get(BOOTSTRAP_ENV) if mtls != "off" else None
    setup_logging("gateway")
    run(Gateway(config, tracer=tracer, identity_token=token).run, "gateway")


if __name__ == "__main__":
    main()
