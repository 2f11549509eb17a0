"""The benchmark's JSON history (loadtests/bench/history.py): appended one line per run,
read back newest first, and compared figure by figure with the last run."""

from __future__ import annotations

import json

from loadtests.bench import history


def _entry(gateway_instr: float, pss_kib: int) -> dict:
    return {
        "code": "abc",
        "loadavg": [1.0, 1.0, 1.0],
        "rows": {"gateway": {"cpu_us": 80.0, "cpu_vs_ref": 3.0, "c1_p50_ms": 0.15}},
        "instructions": [{"hop": "gateway", "per_request": gateway_instr, "requests": 2000}],
        "scale": [
            {
                "catalog": 3,
                "startup_s": 6.0,
                "total": {"count": 29, "rss_kib": 1_000_000, "pss_kib": pss_kib},
                "per_kind": {"sidecar": {"count": 13, "rss_kib": 400_000, "pss_kib": 260_000}},
            }
        ],
    }


def test_a_run_is_compared_with_the_last_one_and_appended(tmp_path):
    path = tmp_path / "h.jsonl"
    assert history.last(path) is None
    assert "no earlier run" in history.compare(None, _entry(190_000, 700 * 1024))
    history.append(path, _entry(190_000, 700 * 1024))
    now = _entry(171_000, 560 * 1024)
    text = history.compare(history.last(path), now)
    assert "| gateway instructions/request | 190,000.00 | 171,000.00 | 0.900× |" in text
    assert "| catalog×3 PSS MiB | 700.00 | 560.00 | 0.800× |" in text
    history.append(path, now)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[-1])["instructions"][0]["per_request"] == 171_000
    assert "at" in history.last(path)


def test_a_cut_last_line_is_skipped(tmp_path):
    path = tmp_path / "h.jsonl"
    history.append(path, _entry(190_000, 700 * 1024))
    with path.open("a") as f:
        f.write('{"code": "cut')  # an interrupted run
    assert history.last(path)["instructions"][0]["per_request"] == 190_000


def test_tracing_off_and_on_are_kept_apart_and_tracing_counts_compared():
    """--scale measures each catalog count with tracing off and on: two figures, not one
    overwriting the other; --tracing's counts are compared per hop and setting."""
    entry = _entry(100_000, 350 * 1024)
    traced = dict(entry["scale"][0], jaeger=True, total={"count": 30, "rss_kib": 1, "pss_kib": 520 * 1024})
    entry["scale"] = [dict(entry["scale"][0], jaeger=False), traced]
    entry["tracing"] = {"haproxy": 29_000, "results": [{"hop": "gateway", "tracing": "1%", "per_request": 138_000}]}
    figures = history._figures(entry)
    assert figures["catalog×3 PSS MiB"] == 350 and figures["catalog×3 traced PSS MiB"] == 520
    assert figures["gateway tracing 1% instructions/request"] == 138_000
