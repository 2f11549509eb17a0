"""Docker compose for gatemesh: every compose file is *rendered* from the topology
definition (``gatemesh.topology``) that the process runner runs, so the two cannot drift
(``python -m gatemesh.compose check``, and ``tests/compose/test_drift.py``).

How a topology maps onto compose:

- one compose service per component, named like it (``catalog-1``, ``sidecar-catalog-1``,
  ``controlplane``, ``gateway``, ``toxiproxy``); a pod is an app container plus its
  sidecar with ``network_mode: service:<app>``, so the sidecar reaches its app on
  127.0.0.1 exactly as the definition says (``services.py``);
- every other loopback address is rewritten to the service that listens there
  (``toxiproxy:18001``, ``http://controlplane:8500``) and listen hosts become 0.0.0.0
  (``addresses.py``);
- Toxiproxy starts from a generated ``-config`` file listing every proxy
  (``compose/config/<topology>/toxiproxy.json``); the gateway reads its generated config
  (``compose/config/<topology>/gateway.json``);
- ``group`` becomes ``depends_on`` with ``service_healthy``, ``health_url`` a healthcheck;
- only the entry (the gateway, or the storefront sidecar without one) and the demo UIs
  (dashboard, Jaeger, Prometheus) are published, on 127.0.0.1 at the process runner's
  numbers; ``compose/<topology>.test.yml`` (rendered too) publishes the rest for tests;
- credentials are made by a one-shot service before the control plane starts and handed
  out on one volume per part (``trust``, ``credentials``, ``launch``); the proxies speak
  mTLS as ``GATEMESH_MTLS`` says.

Modules: ``addresses`` (who listens where), ``services`` (one service per component),
``render`` (whole files), ``check`` (drift), ``project`` (a running compose project
through the docker SDK: containers, health, readiness, the admin token), ``seed`` (a
one-shot PUT), ``trust`` / ``credentials`` / ``launch`` (the credential handoff).
"""

from .render import PROJECT_PREFIX, compose_file, override_file, project_name, publish_override, render, render_all

__all__ = [
    "PROJECT_PREFIX",
    "compose_file",
    "project_name",
    "render",
    "render_all",
    "override_file",
    "publish_override",
]
