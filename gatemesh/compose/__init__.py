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
- the ports a user needs are published on 127.0.0.1 at the same numbers as in the
  process runner (gateway 8080, control plane 8500, Toxiproxy 8474, or the storefront
  sidecar without a gateway), so every URL the definition names works from the host.

Modules: ``addresses`` (who listens where), ``services`` (one service per component),
``render`` (whole files), ``check`` (drift), ``project`` (a running compose project
through the docker SDK: containers, health, readiness), ``seed`` (a one-shot PUT).
"""

from .render import PROJECT_PREFIX, compose_file, project_name, publish_override, render, render_all

__all__ = ["PROJECT_PREFIX", "compose_file", "project_name", "publish_override", "render", "render_all"]
