"""Debian's Chromium, driven by Playwright: the one way the probe, the screenshots, the
overhead measurement and the browser tests start it.

Playwright cannot download its own browsers here, so it runs /usr/bin/chromium
(scripts/install-browser.sh). The flags keep it from reaching out to the internet at
start-up (background networking, component updates, sync), which this machine refuses.
"""

from __future__ import annotations

import tempfile
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any, prefix: str, viewport: dict[str, int] | None = None) -> Any:
    """A fresh persistent context (its own new profile directory) in Debian's Chromium."""
    options: dict[str, Any] = {"headless": True, "executable_path": CHROMIUM, "args": ARGS}
    if viewport is not None:
        options["viewport"] = viewport
    return playwright.chromium.launch_persistent_context(tempfile.mkdtemp(prefix=prefix), **options)
