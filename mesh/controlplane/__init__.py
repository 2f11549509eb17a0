"""The control plane: service registry with TTL heartbeats, per-service mesh policies and
the API-management config, served over HTTP with a blocking snapshot long-poll.

    registry.py  instances and their TTLs (plain class, injected clock)
    store.py     the global index, policies, apimgmt, events, and waking long-polls
    api.py       the aiohttp handlers (the HTTP API of docs/contracts.md)
    app.py       routes, JSON-error middleware, the TTL sweeper, shutdown
    metrics.py   Prometheus metrics, read from the store at scrape time
    __main__.py  ``python -m mesh.controlplane --port P``
"""
