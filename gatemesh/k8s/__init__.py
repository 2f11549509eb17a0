"""Kubernetes for gatemesh: every topology's manifests *rendered* from the definition
(``gatemesh.topology``) that the process runner and compose run, committed under ``k8s/``
and checked for drift (``python -m gatemesh.k8s check``, ``tests/k8s/test_k8s_drift.py``).

How a topology maps onto Kubernetes (docs/kubernetes.md has the why):

- one StatefulSet per service, one pod per instance named after it (``catalog-2``:
  ordinals start at 1); the sidecar is the pod's second container, sharing its network;
- one Pod template serves every instance: each container runs ``gatemesh.k8s.launch``
  with ``$(POD_NAME)`` (the downward API), which rebuilds the topology from the
  definition ConfigMap and execs that instance's own command line (``launch.py``);
- Toxiproxy, the control plane (state on the pod's volume), the gateway and the
  dashboard are Deployments; sidecar-gateway's API management is PUT by a Job;
- every pod uses the host's network, so the definition's addresses (127.0.0.1:<port>,
  one port plan per namespace) hold unchanged, as in the process runner;
- Services: a headless one per StatefulSet, one per singleton, and ``entry``.

Modules: ``options`` (namespace, images, requests), ``pods`` (containers, probes),
``workloads`` (one per kind), ``render`` (whole files, drift), ``launch`` (in the pod),
``cluster`` (kubectl), ``backend`` (faults on pods).
"""

from .options import K8sOptions
from .render import manifest_file, render, render_all

__all__ = ["K8sOptions", "manifest_file", "render", "render_all"]
