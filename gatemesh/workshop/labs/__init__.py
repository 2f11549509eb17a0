"""The labs, in workshop order, one module each (adding a lab is adding a file and a
line in ``ORDER``). Each check injects its own short fault, sends a bounded load through
the entry, counts at the instance, removes the fault and judges.

The start states switch *off* what the lab's step switches on, so a check measures the
step and not the defaults; `gatemesh lab start N` applies them after a full reset.
"""

from __future__ import annotations

import importlib

from ..context import LabError
from ..lab import Lab

ORDER = (
    "tour",
    "timeouts",
    "retries",
    "breaker",
    "outlier",
    "budget",
    "discovery",
    "degradation",
    "placement",
    "presets",
)

LABS: tuple[Lab, ...] = tuple(importlib.import_module(f"{__name__}.{name}").LAB for name in ORDER)

assert [lab.number for lab in LABS] == list(range(1, len(LABS) + 1)), "labs are numbered in ORDER from 1"


def lab(number: int) -> Lab:
    for candidate in LABS:
        if candidate.number == number:
            return candidate
    raise LabError(f"there is no lab {number}; the labs are 1 to {len(LABS)} (gatemesh lab list)")
