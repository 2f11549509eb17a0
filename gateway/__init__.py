"""The API gateway: the edge. Routes, API composition, API keys, rate limits, and the
same resilient-call machinery the sidecars use (gatemesh.pipeline)."""
