"""The docs' screenshots (docs/dashboard.md), taken by the same headless Chromium the
browser tests use, of a running topology driven through the dashboard's own controls.

    python -m gatemesh.dashboard.shots http://127.0.0.1:8090/ docs/img/dashboard

Leaves the topology as it found it: load stopped, everything reset.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gatemesh.runner.webclient import json_request

from .browser import launch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    url = args.url if args.url.endswith("/") else args.url + "/"
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    def post(path: str, body: dict) -> None:
        json_request("POST", url + path, body, timeout_s=90)

    with sync_playwright() as pw:
        ctx = launch(pw, "gatemesh-shots-", {"width": 1500, "height": 1000})
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('link').textContent === 'live'")
        try:
            post("api/reset", {})
            post("api/load", {"rate_per_s": 30, "duration_s": 300, "mix": {"products": 1, "storefront": 1}})
            time.sleep(20)
            page.screenshot(path=str(args.out / "overview.png"), full_page=True)
            post("api/faults", {"target": "catalog-2", "kind": "kill", "params": {}})
            post("api/faults", {"target": "reviews-1", "kind": "latency", "params": {"ms": 1500}})
            time.sleep(8)
            page.locator("#picture-section").screenshot(path=str(args.out / "killed-and-slow.png"))
            post("api/reset", {})
            time.sleep(8)
            post("api/policy", {"service": "pricing", "at": "edge", "pattern": "outlier", "enabled": False})
            post(
                "api/faults",
                {"target": "pricing-1", "kind": "misbehave", "params": {"error_rate": 1, "error_status": 503}},
            )
            page.wait_for_function(
                """() => [...document.querySelectorAll('g.inst[data-instance="pricing-1"]')]
                .some(g => g.getAttribute('aria-label').includes('breaker open at the gateway'))""",
                timeout=20_000,
            )
            time.sleep(6)
            page.screenshot(path=str(args.out / "breaker-open.png"), full_page=True)
        finally:
            post("api/load/stop", {})
            post("api/reset", {})
            ctx.close()
    print(f"shots: {', '.join(sorted(p.name for p in args.out.glob('*.png')))} in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
