"""The mesh: the sidecar proxy (``mesh.sidecar``) and the control plane (``mesh.controlplane``)."""

import gatemesh  # noqa: F401  (first: it decides whether the hot path runs compiled; gatemesh/compiled)
