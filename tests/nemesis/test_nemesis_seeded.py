"""The nemesis as a test tier (issue 12): a seeded schedule over every fault kind while a
client writes orders, each retried with its own Idempotency-Key until acknowledged; then
five control-plane restarts under load. Exactly-once must hold against the orders SQLite
database and GET /api/orders (0 duplicated, 0 lost, 0 invented), and the restarts must
fail no request.

The short run (every kind once, 400 orders) is what CI does; GATEMESH_NEMESIS_LONG=1 runs
the issue's long one (60 faults every 3-8 s, 2000 orders), as `gatemesh nemesis --long` does.
The control arm of the exactly-once check is in tests/unit/test_nemesis.py: the same
checker, handed a duplicated, a lost and an invented order, counts each.
"""

from __future__ import annotations

import json
import os

from gatemesh.nemesis import schedule
from gatemesh.nemesis.run import COUNTS, NemesisOptions, run_nemesis

SEED = int(os.environ.get("GATEMESH_NEMESIS_SEED", "7"))
LONG = os.environ.get("GATEMESH_NEMESIS_LONG", "") == "1"


def test_seeded_nemesis_keeps_orders_exactly_once(nemesis_topology, tmp_path):
    runner = nemesis_topology(counts=COUNTS)
    options = NemesisOptions.long(SEED) if LONG else NemesisOptions(seed=SEED)
    lines: list[str] = []
    report = run_nemesis(runner, options, say=lines.append)
    (tmp_path / "nemesis.json").write_text(json.dumps(report, indent=1))
    print("\n" + "\n".join(lines))
    assert report["kinds"] == sorted(schedule.KINDS), report["kinds"]  # every fault kind ran
    c = report["check"]
    assert (c["duplicated"], c["lost"], c["invented"], c["disagree"]) == (0, 0, 0, 0), c
    assert report["client"]["acknowledged"] == options.orders, report["client"]
    assert c["in_database"] == c["in_api"] == options.orders, c
    r = report["restarts"]
    assert r["cycles"] == 5 and r["failed"] == 0 and r["degraded"] == 0, r
    assert report["ok"]
