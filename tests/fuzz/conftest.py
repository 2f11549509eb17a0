"""Hypothesis profiles: `ci` (the default: 100 examples per property, seconds in all, no
example database) and `long` (`python -m tests.fuzz --minutes N`: batches of
GATEMESH_FUZZ_EXAMPLES examples, failures kept in .gatemesh/hypothesis for the next run)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

settings.register_profile(
    "ci", max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("GATEMESH_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    database=DirectoryBasedExampleDatabase(Path(__file__).resolve().parents[2] / ".gatemesh" / "hypothesis"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("GATEMESH_FUZZ_PROFILE", "ci"))
