"""The mesh: the sidecar proxy (``mesh.sidecar``) and the control plane (``mesh.controlplane``)."""
