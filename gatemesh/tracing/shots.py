"""The tracing docs' screenshot (docs/tracing.md): Jaeger's own UI showing one trace, taken
by the same headless Chromium the dashboard's screenshots use (gatemesh/dashboard/browser.py).

    python -m gatemesh.tracing.shots http://127.0.0.1:16686 TRACE_ID docs/img/tracing/retry.png

With `--expand TEXT` the first span whose name contains TEXT is opened, so its attributes
(instance, outcome, reason) show in the picture.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatemesh.dashboard.browser import launch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("jaeger")
    p.add_argument("trace_id")
    p.add_argument("out", type=Path)
    p.add_argument("--expand", action="append", default=[], metavar="TEXT", help="open the span named like this")
    args = p.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = launch(pw, "gatemesh-trace-shots-", {"width": 1600, "height": 1100})
        try:
            page = ctx.new_page()
            page.goto(f"{args.jaeger.rstrip('/')}/trace/{args.trace_id}?uiEmbed=v0", wait_until="networkidle")
            page.wait_for_selector("text=catalog", timeout=20_000)
            for text in args.expand:
                page.get_by_text(text, exact=False).first.click()
                page.wait_for_timeout(500)
            page.screenshot(path=str(args.out), full_page=True)
        finally:
            ctx.close()
    print(f"shots: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
