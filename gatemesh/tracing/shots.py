"""The tracing docs' screenshot (docs/tracing.md): one trace in gatemesh's dashboard
(its trace view, gatemesh/dashboard/traceview.py; Jaeger's own web UI cannot be built
here), taken by the same headless Chromium the dashboard's screenshots use
(gatemesh/dashboard/browser.py).

    python -m gatemesh.tracing.shots http://127.0.0.1:8090/ TRACE_ID docs/img/tracing/retry-trace.png

The page is cut to its content (the waterfall's table), so the picture has no empty band.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatemesh.dashboard.browser import launch

VIEWPORT = {"width": 1400, "height": 500}  # narrow enough to read at docs width; the page grows down


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dashboard", help="the dashboard's address (gatemesh status: dashboard)")
    p.add_argument("trace_id")
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = launch(pw, "gatemesh-trace-shots-", VIEWPORT)
        try:
            page = ctx.new_page()
            page.goto(f"{args.dashboard.rstrip('/')}/trace/{args.trace_id}", wait_until="load")
            page.wait_for_selector("#waterfall tbody tr, #message", timeout=20_000)
            if page.query_selector("#message"):
                print(f"shots: {page.inner_text('#message')}", file=sys.stderr)
                return 1
            box = page.evaluate(
                "() => { const t = document.getElementById('waterfall').getBoundingClientRect();"
                " return {width: Math.ceil(document.documentElement.scrollWidth), height: Math.ceil(t.bottom + 12)}; }"
            )
            page.screenshot(path=str(args.out), full_page=True, clip={"x": 0, "y": 0, **box})
        finally:
            ctx.close()
    print(f"shots: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
