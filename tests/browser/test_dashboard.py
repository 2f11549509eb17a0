"""The dashboard in a real Chromium on a running edge-mesh: every control from the page,
every state read back from the accessible names the page puts on its nodes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pagelib import (
    control,
    gatemesh,
    instances,
    label,
    message,
    rate,
    snap,
    submit,
    wait_label,
    wait_until,
)

OUTPUT = Path(__file__).parent / "output"
# The first scenario also waits for `gatemesh up` (tens of seconds on a loaded machine).
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def clean(page, request):
    """Every scenario starts and ends with the page's own reset and the demo load off; its
    screenshot is taken before the reset at its end."""
    assert "reset" in submit(page, "#reset")
    yield
    snap(page, request.node.name)
    submit(page, "#load-stop")
    assert "reset" in submit(page, "#reset")


def start_load(page, rate_per_s: int = 30, mix: str = "products=1 storefront=1") -> None:
    page.fill("#load-rate", str(rate_per_s))
    page.fill("#load-duration", "120")
    page.fill("#load-mix", mix)
    assert "load started" in submit(page, "#load-start")


def test_kill_an_instance_from_the_page_and_its_traffic_drops(page):
    # ejection off for catalog, so only the breakers act and heal within seconds of the restart
    for at in ("edge", "mesh"):
        page.uncheck(f'input[data-service="catalog"][data-pattern="outlier"][data-at="{at}"]')
        assert f"outlier off for catalog at {at}" in message(page)
    start_load(page)
    wait_until(lambda: rate(page, "catalog-2") > 1.0, 15, "traffic to catalog-2")
    assert "killed catalog-2" in control(page, "catalog-2", "kill")
    said = wait_label(page, "catalog-2", "killed (not running)", 5)
    dropped = wait_until(lambda: rate(page, "catalog-2") < 0.5, 10, "catalog-2's successful traffic dropping")
    assert rate(page, "catalog-1") > 1.0 and rate(page, "catalog-3") > 1.0  # the others carry it
    assert "restarted" in control(page, "catalog-2", "restart")
    wait_label(page, "catalog-2", "killed", 30, absent=True)
    wait_label(page, "catalog-2", "catalog-2: healthy", 30)  # the load's calls close its breakers again
    print(f"kill shown after {said:.2f} s, traffic gone after {dropped:.2f} s more")


def test_a_breaker_fault_from_the_page_opens_then_closes_at_the_gateway(page):
    # outlier ejection off at the edge so the breaker alone acts (and recovers in seconds)
    page.uncheck('input[data-service="pricing"][data-pattern="outlier"][data-at="edge"]')
    assert "outlier off for pricing at edge" in message(page)
    start_load(page, 30, "pricing=1")
    wait_until(lambda: rate(page, "pricing-1") > 1.0, 15, "traffic to pricing-1")
    t0 = time.monotonic()
    assert "misbehave" in control(page, "pricing-1", "misbehave", "error_rate=1 error_status=503")
    wait_label(page, "pricing-1", "breaker open at the gateway", 15)
    opened = time.monotonic() - t0
    assert "misbehaving (100% errors 503)" in label(page, "pricing-1")
    assert "removed misbehave" in submit(page, "#fault-remove")
    closed = wait_label(page, "pricing-1", "breaker closed at the gateway", 30)
    print(f"breaker open shown {opened:.2f} s after the fault; closed {closed:.2f} s after its removal")


def test_control_arm_with_the_breaker_off_the_same_fault_never_opens_it(page):
    page.uncheck('input[data-service="pricing"][data-pattern="breaker"][data-at="edge"]')
    assert "breaker off for pricing at edge" in message(page)
    page.uncheck('input[data-service="pricing"][data-pattern="outlier"][data-at="edge"]')
    assert "outlier off" in message(page)
    start_load(page, 30, "pricing=1")
    wait_until(lambda: rate(page, "pricing-1") > 1.0, 15, "traffic to pricing-1")
    control(page, "pricing-1", "misbehave", "error_rate=1 error_status=503")
    wait_label(page, "pricing-1", "misbehaving", 5)
    # the failure without the pattern: calls keep going to pricing-1 and keep failing
    wait_until(
        lambda: rate(page, "pricing-1", "data-rps") > 1.0 and rate(page, "pricing-1") < 0.5,
        10,
        "failing calls to pricing-1",
    )
    time.sleep(4)
    assert "breaker open" not in label(page, "pricing-1")
    assert rate(page, "pricing-1", "data-rps") > 1.0


def test_reset_from_the_page_makes_everything_healthy(page):
    control(page, "catalog-1", "latency", "ms=300")
    control(page, "orders-1", "down", "")
    control(page, "reviews-2", "pause", "")
    wait_label(page, "reviews-2", "paused", 5)
    wait_label(page, "orders-1", "Toxiproxy proxy is down", 5)
    assert "reset" in submit(page, "#reset")
    wait_until(
        lambda: all(v.split(": ", 1)[1].startswith("healthy") for v in instances(page).values()),
        30,
        "every instance healthy",
    )


def test_keyboard_only(page):
    def tab_to(element_id: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    page.reload()  # focus starts at the top of the page, as for a person arriving on it
    page.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=15_000)
    page.wait_for_selector("g.inst", timeout=15_000)
    tab_to("fault-target")
    while page.eval_on_selector("#fault-target", "s => s.value") != "inventory-2":
        page.keyboard.press("ArrowDown")
    tab_to("fault-kind")
    while page.eval_on_selector("#fault-kind", "s => s.value") != "latency":
        page.keyboard.press("ArrowUp")
    tab_to("fault-params")
    page.keyboard.press("Control+A")
    page.keyboard.type("ms=400")
    tab_to("fault-add")
    page.keyboard.press("Enter")
    assert "latency" in message(page)
    wait_label(page, "inventory-2", "latency 400 ms on its wire", 5)
    tab_to("fault-remove")
    page.keyboard.press("Space")
    assert "removed latency" in message(page)
    wait_label(page, "inventory-2", "latency", 5, absent=True)


def test_bad_input_shows_the_apis_error_and_changes_nothing(page):
    before = instances(page)
    assert "latency ms must be a number from 0" in control(page, "catalog-1", "latency", "ms=-5")
    assert page.get_attribute("#message", "class") == "error"
    page.eval_on_selector("#fault-target", "s => s.add(new Option('catalog-9', 'catalog-9'))")
    assert "no instance named 'catalog-9'" in control(page, "catalog-9", "latency", "ms=100")
    assert "error_rate must be a number from 0 to 1" in control(page, "catalog-1", "misbehave", "error_rate=7")
    page.fill("#load-rate", "-3")
    assert "rate_per_s must be above 0" in submit(page, "#load-start")
    time.sleep(1.5)
    after = instances(page)
    assert {k: v.split(", ")[0] for k, v in after.items()} == {k: v.split(", ")[0] for k, v in before.items()}
    assert "latency" not in label(page, "catalog-1")


def test_the_page_survives_the_control_plane_and_a_proxy_dying(page):
    control(page, "controlplane", "kill")
    page.wait_for_selector('g[data-part="control plane"][aria-label^="control plane: down"]', timeout=10_000)
    control(page, "sidecar-catalog-3", "kill")
    wait_label(page, "catalog-3", "its sidecar is killed", 5)
    assert "restarted" in control(page, "controlplane", "restart")
    page.wait_for_selector('g[data-part="control plane"][aria-label^="control plane: up"]', timeout=30_000)


def test_latency_from_a_fault_injected_to_the_page_showing_it(page, dashboard_run):
    """Measured, not asserted beyond the issue's 'within a few seconds': from the page's
    own control (the aggregator polls at once after it), and from the CLI (the next poll)."""
    samples, from_cli = [], []
    for i in range(5):
        page.select_option("#fault-target", "catalog-1")
        page.select_option("#fault-kind", "latency")
        page.fill("#fault-params", f"ms={100 + i}")
        t0 = time.monotonic()
        page.click("#fault-add")
        wait_label(page, "catalog-1", f"latency {100 + i} ms", 5)
        samples.append(time.monotonic() - t0)
        submit(page, "#fault-remove")
        wait_label(page, "catalog-1", "latency", 5, absent=True)
    for i in range(5):
        cli = gatemesh(
            dashboard_run["_home"],
            "fault",
            "add",
            "catalog-1",
            "latency",
            "--ms",
            str(200 + i),
            "--name",
            dashboard_run["_name"],
        )
        assert cli.returncode == 0, cli.stderr
        t0 = time.monotonic()
        wait_label(page, "catalog-1", f"latency {200 + i} ms", 5)
        from_cli.append(time.monotonic() - t0)
        submit(page, "#fault-remove")
        wait_label(page, "catalog-1", "latency", 5, absent=True)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "latency.json").write_text(json.dumps({"from_the_page_s": samples, "from_the_cli_s": from_cli}))
    print("fault injected from the page → page shows it:", ", ".join(f"{s:.2f} s" for s in samples))
    print("fault injected by the CLI (after it returned) → page shows it:", ", ".join(f"{s:.2f} s" for s in from_cli))
    assert max(samples) < 5 and max(from_cli) < 5
