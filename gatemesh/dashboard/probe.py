"""Open a running dashboard once in Debian's Chromium and check it works: the stream is
live, every instance of the topology is drawn with its state in words, no console error.

    python -m gatemesh.dashboard.probe http://127.0.0.1:8090/ [--instances 13] [--screenshot out.png]

Used by scripts/compose-tier.sh (the dashboard in containers); exit status 1 with one
line saying what is wrong.
"""

from __future__ import annotations

import argparse
import sys

from .browser import launch


def probe(url: str, instances: int | None, screenshot: str | None, timeout_s: float) -> str:
    from playwright.sync_api import Error, sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        ctx = launch(pw, "gatemesh-probe-", {"width": 1500, "height": 1100})
        try:
            page = ctx.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(url, timeout=timeout_s * 1000)
            page.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=timeout_s * 1000)
            want = instances or 1
            page.wait_for_function(f"document.querySelectorAll('g.inst').length >= {want}", timeout=timeout_s * 1000)
            page.wait_for_timeout(2500)  # a few rounds of the aggregator
            labels = page.eval_on_selector_all("g.inst", "els => els.map(e => e.getAttribute('aria-label'))")
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
        except Error as e:
            raise SystemExit(f"dashboard probe: {url}: {str(e).splitlines()[0]}") from None
        finally:
            ctx.close()
    if problems:
        raise SystemExit(f"dashboard probe: the page logged errors: {problems[:3]}")
    down = [label for label in labels if "killed" in label or "not in the registry" in label]
    if down:
        raise SystemExit(f"dashboard probe: instances not running: {down[:3]}")
    return f"dashboard probe: {url} live, {len(labels)} instances drawn, e.g. {labels[0]!r}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("--instances", type=int, help="how many instances the picture must show")
    p.add_argument("--screenshot", help="where to save a screenshot of the page")
    p.add_argument("--timeout-s", type=float, default=30.0)
    args = p.parse_args(argv)
    print(probe(args.url, args.instances, args.screenshot, args.timeout_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
