"""Jaeger in a topology: its component, its loopback-only config, and the environment that
points every proxy and app at it; a topology without it is as it was."""

from __future__ import annotations

import pytest
import yaml

from gatemesh.topology import PortPlan, TopologyError, build_topology
from gatemesh.topology.jaeger import JAEGER_CONFIG
from gatemesh.topology.model import GATEWAY, JAEGER, SERVICE, SIDECAR


def test_jaeger_starts_with_toxiproxy_and_every_proxy_and_app_traces_to_it():
    topo = build_topology("edge-mesh", PortPlan.from_base(30000), jaeger=True, trace_ratio=0.25)
    jaeger = topo.component("jaeger")
    assert jaeger.kind == JAEGER and jaeger.group == 0
    assert topo.endpoints.jaeger == "http://127.0.0.1:30086"
    for c in topo.components:
        if c.kind in (SERVICE, SIDECAR, GATEWAY):
            assert c.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:30088", c.name
            assert c.env["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    assert set(topo.all_ports()) >= {30086, 30087, 30088}


def test_every_jaeger_listener_is_on_loopback_on_the_topologys_own_ports():
    topo = build_topology("mesh", PortPlan.from_base(31000), jaeger=True)
    text = topo.files[JAEGER_CONFIG]
    assert "0.0.0.0" not in text
    conf = yaml.safe_load(text)
    endpoints = [
        conf["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        conf["extensions"]["jaeger_query"]["http"]["endpoint"],
        conf["extensions"]["jaeger_query"]["grpc"]["endpoint"],
    ]
    assert endpoints == ["127.0.0.1:31088", "127.0.0.1:31086", "127.0.0.1:31087"]
    assert conf["service"]["telemetry"]["metrics"]["level"] == "none"  # no collector metrics port (8888)


def test_without_jaeger_the_topology_is_unchanged():
    topo = build_topology("edge-mesh")
    assert "jaeger" not in {c.name for c in topo.components} and topo.endpoints.jaeger is None
    assert not any("OTEL_EXPORTER_OTLP_ENDPOINT" in c.env for c in topo.components)
    assert "jaeger" not in topo.options


@pytest.mark.parametrize("ratio", [-0.1, 1.5, "1", True])
def test_a_bad_trace_ratio_is_one_sentence(ratio):
    with pytest.raises(TopologyError, match="trace_ratio must be a number from 0 to 1"):
        build_topology("edge", jaeger=True, trace_ratio=ratio)
