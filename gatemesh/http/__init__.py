"""The HTTP proxy core shared by the gateway and the sidecar: server, pooled client, messages."""
