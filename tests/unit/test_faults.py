"""The fault API's own logic, no topology: schedules on a fake clock, toxic and misbehave
specs, target lookup with one-line errors, and the `gatemesh fault` CLI's refusals."""

from __future__ import annotations

import pytest

from gatemesh.cli import main as cli_main
from gatemesh.faults import (
    TOXICS,
    Always,
    Bandwidth,
    FaultError,
    Faults,
    FirstCalls,
    Flapping,
    Latency,
    LimitData,
    Member,
    Misbehave,
    ResetPeer,
    Slicer,
    Timeout,
    ToxiproxyClient,
    Window,
)
from gatemesh.faults.schedule import Scheduled, Scheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Switch:
    """Records apply/revert calls the way a real fault would be switched."""

    def __init__(self) -> None:
        self.on = False
        self.log: list[str] = []

    def apply(self) -> None:
        assert not self.on, "applied twice"
        self.on = True
        self.log.append("on")

    def revert(self) -> None:
        assert self.on, "reverted while off"
        self.on = False
        self.log.append("off")


# ---------------------------------------------------------------- schedules (pure)


def test_window_is_on_between_start_and_end_then_finished():
    w = Window(start_s=5, end_s=15)
    assert w.state(0, 0) == (False, False)
    assert w.state(4.99, 0) == (False, False)
    assert w.state(5, 0) == (True, False)
    assert w.state(14.99, 0) == (True, False)
    assert w.state(15, 0) == (False, True)


def test_window_without_end_stays_on():
    assert Window(start_s=1).state(1e6, 0) == (True, False)


@pytest.mark.parametrize("kwargs", [{"start_s": -1}, {"start_s": 5, "end_s": 5}, {"start_s": 5, "end_s": 2}])
def test_bad_windows_are_refused_with_a_sentence(kwargs):
    with pytest.raises(FaultError, match="window"):
        Window(**kwargs)


def test_first_calls_is_on_until_n_calls_then_finished():
    f = FirstCalls(3)
    assert [f.state(0, c) for c in range(5)] == [(True, False)] * 3 + [(False, True)] * 2


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_first_calls_needs_a_positive_whole_number(n):
    with pytest.raises(FaultError, match="first-calls"):
        FirstCalls(n)


def test_flapping_is_reproducible_from_its_seed_and_differs_across_seeds():
    def plan(seed: int) -> list[bool]:
        f = Flapping(period_s=1, on_probability=0.5, seed=seed)
        return [f.state(k + 0.5, 0)[0] for k in range(40)]

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)
    assert 5 < sum(plan(7)) < 35  # about half the periods


def test_flapping_reads_periods_in_any_order_and_stops_after_its_duration():
    f = Flapping(period_s=0.5, on_probability=0.3, seed=1, duration_s=10)
    forward = [f.state(k * 0.5, 0)[0] for k in range(20)]
    g = Flapping(period_s=0.5, on_probability=0.3, seed=1, duration_s=10)
    backward = [g.state(k * 0.5, 0)[0] for k in reversed(range(20))][::-1]
    assert forward == backward
    assert f.state(10, 0) == (False, True)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_flapping_extremes(p):
    f = Flapping(period_s=1, on_probability=p, seed=3)
    assert {f.state(k, 0)[0] for k in range(20)} == {bool(p)}


# ---------------------------------------------------------------- a scheduled fault


def test_scheduled_window_applies_and_reverts_once_each():
    clock, sw = FakeClock(), Switch()
    item = Scheduled("x", Window(2, 4), sw.apply, sw.revert)
    item.arm(clock())
    for dt in (0, 1, 2, 3, 3.5, 4, 5, 6):
        clock.now = 100 + dt
        item.step(clock())
    assert sw.log == ["on", "off"] and item.finished and not item.active


def test_scheduled_first_calls_counts_from_when_it_was_armed():
    sw, calls = Switch(), [10]
    item = Scheduled("x", FirstCalls(2), sw.apply, sw.revert, calls=lambda: calls[0])
    item.arm(0.0)
    assert sw.on
    calls[0] = 11
    item.step(0.1)
    assert sw.on
    calls[0] = 12
    item.step(0.2)
    assert not sw.on and item.finished


def test_first_calls_needs_a_call_counter():
    with pytest.raises(FaultError, match="counting calls"):
        Scheduled("x", FirstCalls(1), lambda: None, lambda: None, calls=None)


def test_cancel_reverts_an_active_fault_and_is_final():
    sw = Switch()
    item = Scheduled("x", Always(), sw.apply, sw.revert)
    item.arm(0.0)
    item.cancel()
    item.step(1.0)
    assert sw.log == ["on", "off"] and item.finished


def test_scheduler_steps_items_on_its_clock_and_drops_finished_ones():
    clock, sw = FakeClock(), Switch()
    scheduler = Scheduler(clock=clock, tick_s=3600)  # the thread sleeps; the test steps by hand
    scheduler.add(Scheduled("x", Window(1, 2), sw.apply, sw.revert))
    clock.now += 1.5
    scheduler.step()
    assert sw.on
    clock.now += 1.0
    scheduler.step()
    assert not sw.on and scheduler.items == []


def test_scheduler_keeps_going_when_a_step_fails_and_reports_it():
    clock = FakeClock()

    def boom() -> None:
        raise FaultError("toxiproxy went away")

    scheduler = Scheduler(clock=clock, tick_s=3600)
    item = scheduler.add(Scheduled("x", Window(1, 5), boom, lambda: None))
    clock.now += 2
    scheduler.step()
    assert item.error == "toxiproxy went away" and scheduler.items == [item]
    scheduler.cancel_all()
    assert scheduler.items == []


# ---------------------------------------------------------------- specs


def test_every_toxic_is_registered_under_its_toxiproxy_type():
    assert set(TOXICS) == {"latency", "timeout", "reset_peer", "bandwidth", "slicer", "limit_data", "slow_close"}


@pytest.mark.parametrize(
    "toxic, attributes",
    [
        (Latency(2000, 100), {"latency": 2000, "jitter": 100}),
        (Timeout(), {"timeout": 0}),
        (ResetPeer(50), {"timeout": 50}),
        (Bandwidth(10), {"rate": 10}),
        (Slicer(8, 2, 500), {"average_size": 8, "size_variation": 2, "delay": 500}),
        (LimitData(1), {"bytes": 1}),
    ],
)
def test_toxic_attributes_are_toxiproxys(toxic, attributes):
    assert toxic.attributes() == attributes
    assert toxic.stream == "downstream" and toxic.toxicity == 1.0


def test_stream_and_toxicity_are_checked():
    assert (
        Latency(10, stream="upstream", toxicity=0.5).describe() == "latency ms=10 jitter_ms=0 (upstream toxicity=0.5)"
    )
    with pytest.raises(FaultError, match="stream"):
        Latency(10, stream="sideways")
    with pytest.raises(FaultError, match="toxicity"):
        Latency(10, toxicity=1.5)


@pytest.mark.parametrize(
    "make",
    [lambda: Latency(-1), lambda: Bandwidth(1.5), lambda: Slicer(2, 2), lambda: LimitData(-3), lambda: Timeout("soon")],
)
def test_bad_toxic_settings_are_refused_with_a_sentence(make):
    with pytest.raises(FaultError, match="must be"):
        make()


def test_misbehave_spec_is_what_the_services_take():
    m = Misbehave(error_rate=0.5, error_status=503, delay_ms=20, seed=7)
    assert m.body() == {"error_rate": 0.5, "error_status": 503, "delay_ms": 20, "seed": 7}
    assert m.describe() == "misbehave error_rate=0.5 error_status=503 delay_ms=20 seed=7"
    for bad in ({"error_rate": 2}, {"error_status": 200}, {"delay_ms": -1}):
        with pytest.raises(FaultError):
            Misbehave(**bad)


# ---------------------------------------------------------------- targets


class ListedBackend:
    """Only answers "what runs?"; any process fault here would be a bug in the test."""

    def endpoints(self):
        return {"toxiproxy_api": "http://127.0.0.1:1"}

    def members(self):
        return [
            Member.from_status(e)
            for e in [
                {"name": "controlplane", "kind": "controlplane", "health": "http://127.0.0.1:2/health"},
                {
                    "name": "catalog-1",
                    "kind": "service",
                    "service": "catalog",
                    "proxy": "catalog-1",
                    "health": "http://127.0.0.1:3/health",
                    "alive": True,
                },
                {"name": "sidecar-catalog-1", "kind": "sidecar", "service": "catalog", "proxy": "catalog-1"},
            ]
        ]


def test_instances_are_found_by_name_or_by_their_sidecar_and_unknown_names_list_the_known():
    faults = Faults(ListedBackend())
    assert faults.instance("catalog-1").admin_url == "http://127.0.0.1:3"
    assert faults.instance("sidecar-catalog-1").name == "catalog-1"
    with pytest.raises(FaultError, match=r"no instance named 'pricing-1'; the instances are: catalog-1$"):
        faults.instance("pricing-1")
    with pytest.raises(FaultError, match="the components are: controlplane, catalog-1, sidecar-catalog-1"):
        faults.kill("gateway")
    assert faults.member("controlplane").admin_url is None  # only apps have the misbehave knob


def test_toxiproxy_client_needs_host_and_port():
    assert ToxiproxyClient("127.0.0.1:8474").api_url == "http://127.0.0.1:8474"
    with pytest.raises(FaultError, match="must look like"):
        ToxiproxyClient("http://nowhere")


# ---------------------------------------------------------------- CLI refusals (one line)


def test_cli_fault_without_a_running_topology_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEMESH_HOME", str(tmp_path))
    assert cli_main(["fault", "list", "--name", "nothing-here"]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "gatemesh: error: no topology named 'nothing-here' is running; start one with: gatemesh up --name nothing-here"
    )


def test_cli_fault_unknown_kind_and_bad_setting_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEMESH_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        cli_main(["fault", "add", "catalog-1", "meteor"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 'meteor'" in err[0]
    assert cli_main(["fault", "add", "catalog-1", "latency", "speed=9", "--name", "nothing-here"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad setting 'speed=9'" in err[0]
