"""The API gateway: the edge. Routes, API composition, API keys, rate limits, and the
same resilient-call machinery the sidecars use (gatemesh.pipeline)."""

import gatemesh  # noqa: F401  (first: it decides whether the hot path runs compiled; gatemesh/compiled)
