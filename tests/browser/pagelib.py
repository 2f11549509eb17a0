"""What the browser tests do on the page: read an instance's accessible name, wait for
it to say something, use the controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).parent / "output"
REPO = Path(__file__).resolve().parents[2]


def label(pg: Any, instance: str) -> str:
    return pg.get_attribute(f'g.inst[data-instance="{instance}"]', "aria-label") or ""


def wait_label(pg: Any, instance: str, text: str, timeout_s: float, absent: bool = False) -> float:
    """Seconds until the instance's accessible name contains (or no longer contains) ``text``."""
    t0 = time.monotonic()
    op = "!" if absent else ""
    pg.wait_for_function(
        f"""() => {{ const g = document.querySelector('g.inst[data-instance="{instance}"]');
                   return g && {op}g.getAttribute('aria-label').includes({json.dumps(text)}); }}""",
        timeout=timeout_s * 1000,
    )
    return time.monotonic() - t0


def control(pg: Any, target: str, kind: str, settings: str | None = None) -> str:
    """Pick a target and a fault kind, inject it; the page's answer (sentence or error)."""
    pg.select_option("#fault-target", target)
    pg.select_option("#fault-kind", kind)
    if settings is not None:
        pg.fill("#fault-params", settings)
    return submit(pg, "#fault-add")


def submit(pg: Any, button: str) -> str:
    pg.evaluate("document.getElementById('message').textContent = ''")
    pg.click(button)
    return message(pg)


def message(pg: Any, timeout_s: float = 60.0) -> str:
    pg.wait_for_function(
        """() => { const m = document.getElementById('message');
        return m.textContent && m.textContent !== 'working…'; }""",
        timeout=timeout_s * 1000,
    )
    return pg.inner_text("#message")


def instances(pg: Any) -> dict[str, str]:
    return pg.eval_on_selector_all(
        "g.inst", "els => Object.fromEntries(els.map(e => [e.dataset.instance, e.getAttribute('aria-label')]))"
    )


def rate(pg: Any, instance: str, attr: str = "data-ok-rps") -> float:
    return float(pg.get_attribute(f'g.inst[data-instance="{instance}"]', attr) or 0)


def wait_until(fn: Any, timeout_s: float, what: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if fn():
            return time.monotonic() - t0
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")


def snap(pg: Any, name: str) -> None:
    """A screenshot of the page, kept with the test output (tests/browser/output, git-ignored)."""
    OUTPUT.mkdir(exist_ok=True)
    pg.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def gatemesh(home: Path, *args: str, timeout_s: float = 150.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEMESH_HOME": str(home), "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "gatemesh.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
