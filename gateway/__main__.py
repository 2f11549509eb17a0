"""python -m gateway --config FILE"""

from __future__ import annotations

import argparse

from gatemesh import tracing
from gatemesh.runtime import fatal, run, setup_logging

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
    setup_logging("gateway")
    run(Gateway(config, tracer=tracer).run, "gateway")


if __name__ == "__main__":
    main()
