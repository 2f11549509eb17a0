"""The proxy benchmark: gatemesh's gateway and sidecar hops against HAProxy and nginx,
on loopback, in one run (`python -m loadtests.bench`; see docs/performance.md)."""
