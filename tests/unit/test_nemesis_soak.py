"""The soak's sampling and its growth verdict: a step that levels off is not growth; a
rise of more than 25 % still going at the end is."""

from __future__ import annotations

import os

import pytest

from gatemesh.nemesis.soak import KindSeries, proc_sample, table


def test_a_live_process_is_sampled_from_proc_and_a_gone_one_is_none():
    rss, fds = proc_sample(os.getpid())
    assert rss > 1 and fds >= 3
    assert proc_sample(2**22 + 12345) is None


def series(values: list[float]) -> KindSeries:
    return KindSeries("gateway", 1, rss_mib=list(values), fds=list(values))


def test_a_step_that_levels_off_is_not_growth():
    s = series([40, 60, 60, 60, 60, 60]).summary()
    assert s["rss_mib"]["growth"] == pytest.approx(0.5) and not s["rss_mib"]["grows"]


def test_a_steady_rise_to_the_end_is_growth():
    s = series([15, 30, 50, 70, 100, 134]).summary()
    assert s["fds"]["grows"] and s["fds"]["start"] == 15 and s["fds"]["end"] == 134


def test_flat_is_flat_and_the_table_names_every_kind():
    s = series([40, 40.2, 40.1, 40.3]).summary()
    assert not s["rss_mib"]["grows"] and not s["fds"]["grows"]
    text = table({"kinds": {"gateway": s, "toxiproxy": series([12, 12, 12]).summary()}})
    assert "gateway" in text and "toxiproxy" in text and "GROWS" not in text
