"""The nemesis: a Jepsen-style tester for a running edge-mesh topology.

A client writes orders through the gateway, each retried with its own
``Idempotency-Key`` until it is acknowledged (``client.OrderWriter``), while a seeded
schedule breaks the orders path one fault at a time, over every fault kind: an orders app,
its sidecar or the control plane killed or paused; reset_peer, limit_data, latency or
timeout toxics or a disabled proxy on an orders instance (``schedule``). Then the
control plane is restarted five times under read/write traffic (``traffic.Traffic``),
and the orders are checked for exactly-once against the orders SQLite database and
``GET /api/orders`` (``check``): 0 duplicated, 0 lost, 0 invented.

``soak`` samples RSS and open files per process kind (Toxiproxy included) under a
steady load for a bounded time and reports the growth.

Faults go through ``gatemesh.faults`` and the topology runs on ``gatemesh.runner``: the
nemesis has no client of its own for either.
"""
