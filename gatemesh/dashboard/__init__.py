"""The live dashboard: the running topology as a picture, a timeline, charts and controls.

    python -m gatemesh.dashboard --port 8090 --parts RUN_DIR/parts.json --state RUN_DIR/state.json

One aggregator (``hub.Hub``) polls every proxy's own admin API about once a second
(``/-/upstreams``, ``/-/events``, ``/metrics``), the control plane, Toxiproxy and the apps'
misbehave knobs, and pushes one view to every open page over one server-sent-events
stream: a page never polls a proxy. It polls only while a page is open (plus a short
linger), so an unwatched dashboard costs the proxies nothing. The controls go through the
same APIs as the CLI: ``gatemesh.faults`` (Toxiproxy, misbehave, the supervisor's process
control), ``gatemesh.policy_client`` and the supervisor's ``/scale``.

Modules: ``config`` (knobs), ``parts`` (what runs), ``prom`` (metric deltas), ``sample``
(one poll round), ``words`` (states in sentences), ``view`` (the picture's data),
``hub`` (the loop and the stream), ``controls`` and ``load`` (what the buttons do),
``server`` (HTTP). The page is ``static/`` (plain ES modules, uPlot from npm).
"""
