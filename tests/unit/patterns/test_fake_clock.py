"""gatemesh.clock: the fake clock tests run on, and the real one."""

import asyncio

import pytest

from gatemesh.clock import FakeClock, SystemClock


def test_fake_clock_starts_where_told_and_moves_only_when_advanced():
    clock = FakeClock(start=100.0)
    assert clock.monotonic() == 100.0
    clock.advance(2.5)
    assert clock.monotonic() == 102.5


def test_fake_clock_refuses_to_go_backwards():
    with pytest.raises(ValueError, match="non-negative"):
        FakeClock().advance(-1)


def test_fake_sleep_advances_time_at_once_and_records_each_sleep():
    clock = FakeClock()

    async def main():
        await clock.sleep(0.5)
        await clock.sleep(0.25)

    asyncio.run(main())
    assert clock.monotonic() == 0.75
    assert clock.sleeps == [0.5, 0.25]


def test_fake_sleep_yields_to_other_tasks_once():
    clock = FakeClock()
    order = []

    async def sleeper():
        order.append("sleep")
        await clock.sleep(1)
        order.append("woke")

    async def other():
        order.append("other")

    async def main():
        await asyncio.gather(sleeper(), other())

    asyncio.run(main())
    assert order == ["sleep", "other", "woke"]


def test_system_clock_is_monotonic():
    clock = SystemClock()
    a = clock.monotonic()
    assert clock.monotonic() >= a
