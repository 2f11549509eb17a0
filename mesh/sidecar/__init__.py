"""The sidecar proxy: one per service instance. Inbound (the instance's traffic → its
app) and outbound (the app's calls to other services, by Host header → resilient call)."""
