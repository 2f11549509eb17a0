"""The nemesis's pure parts: the seeded schedule (same seed, same faults; every kind
before any repeats) and the exactly-once checker, which must count a duplicated, a lost
and an invented order when handed one (the control arm of tests/nemesis)."""

from __future__ import annotations

import pytest

from gatemesh.nemesis import schedule
from gatemesh.nemesis.check import judge
from gatemesh.nemesis.client import OrderRecord
from gatemesh.nemesis.run import NemesisOptions


def test_the_same_seed_gives_the_same_schedule_and_every_kind_comes_first():
    a, b = schedule.plan(7, 30), schedule.plan(7, 30)
    assert a == b and a != schedule.plan(8, 30)
    assert sorted(s.kind for s in a[: len(schedule.KINDS)]) == sorted(schedule.KINDS)
    for s in a:
        if s.kind.endswith("controlplane"):
            assert s.target == "controlplane"
        elif s.kind.endswith("sidecar"):
            assert s.target in ("sidecar-orders-1", "sidecar-orders-2")
        else:
            assert s.target in ("orders-1", "orders-2")
        assert 1.0 <= s.hold_s <= 3.0 and 2.0 <= s.gap_s <= 5.0


def test_a_bad_plan_or_option_is_one_sentence():
    with pytest.raises(ValueError, match="at least one step"):
        schedule.plan(1, 0)
    with pytest.raises(ValueError, match="hold_s must be"):
        NemesisOptions(hold_s=(3.0, 1.0))


def acked(key: str, oid: int, product: int = 1, qty: int = 1) -> OrderRecord:
    return OrderRecord(key, product, qty, attempts=1, acked_ids=[oid])


def test_a_clean_run_is_ok():
    records = [acked("k-1", 1), acked("k-2", 2)]
    rows = [(1, "k-1", 1, 1), (2, "k-2", 1, 1)]
    v = judge(records, rows, rows)
    assert v.ok and (v.duplicated, v.lost, v.invented, v.disagree) == (0, 0, 0, 0)


def test_duplicated_lost_and_invented_orders_are_each_counted():
    records = [acked("k-1", 1), acked("k-2", 2), OrderRecord("k-3", 1, 1, attempts=1, acked_ids=[3, 4])]
    rows = [
        (1, "k-1", 1, 1),  # k-2 was acknowledged but is missing: lost
        (3, "k-3", 1, 1),  # k-3 was acknowledged as 3 and as 4: duplicated
        (5, "k-9", 2, 2),
    ]  # nobody sent k-9: invented
    v = judge(records, rows, rows)
    assert (v.duplicated, v.lost, v.invented) == (1, 1, 1) and not v.ok


def test_an_order_changed_on_the_way_counts_as_invented_and_the_api_must_agree():
    records = [acked("k-1", 1, product=3)]
    v = judge(records, [(1, "k-1", 4, 1)], [])
    assert v.invented == 1 and v.disagree == 1 and v.lost == 1


def test_an_unacknowledged_order_may_or_may_not_exist():
    records = [OrderRecord("k-1", 1, 1, attempts=5), OrderRecord("k-2", 1, 1, attempts=5)]
    v = judge(records, [(1, "k-1", 1, 1)], [(1, "k-1", 1, 1)])
    assert v.ok and v.unacknowledged == 2 and v.unacknowledged_present == 1
