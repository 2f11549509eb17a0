"""`gatemesh_connections_total` says which connections are mTLS: the counts the TLS
listener and the dialler keep, exported at scrape time under one declared name."""

from prometheus_client.parser import text_string_to_metric_families

from gatemesh.metrics import CONNECTIONS, ProxyMetrics


def samples(m: ProxyMetrics) -> dict[tuple[str, str], float]:
    out = {}
    for family in text_string_to_metric_families(m.exposition().decode()):
        for s in family.samples:
            if s.name == CONNECTIONS[0] + "_total":
                out[(s.labels["direction"], s.labels["kind"])] = s.value
    return out


def test_every_kind_is_exported_from_the_start_and_moves_with_the_live_counts():
    m = ProxyMetrics("sidecar:catalog-1")
    assert samples(m) == {}  # no identity, no TLS side: nothing to say
    inbound = {"mtls": 0, "plain": 0, "refused-plain": 0, "refused-handshake": 0}
    outbound = {"mtls": 0, "plain": 0}
    m.watch_connections("inbound", inbound)
    m.watch_connections("outbound", outbound)
    assert set(samples(m)) == {("inbound", k) for k in inbound} | {("outbound", k) for k in outbound}
    assert not any(samples(m).values())
    inbound["mtls"] += 3
    inbound["refused-plain"] += 1
    outbound["mtls"] += 2
    got = samples(m)
    assert got[("inbound", "mtls")] == 3 and got[("inbound", "refused-plain")] == 1
    assert got[("outbound", "mtls")] == 2 and got[("inbound", "plain")] == 0
