"""The four topologies as data: components, proxies, gateway config, ports, counts."""

from __future__ import annotations

import json

import pytest

from gatemesh.topology import (
    DEFAULT_COUNTS,
    RUN_DIR,
    SERVICES,
    TOPOLOGIES,
    PortPlan,
    TopologyError,
    build_topology,
    parse_scale,
    rescale,
)

TOTAL = sum(DEFAULT_COUNTS.values())  # 13 instances


def arg(component, flag):
    args = list(component.args)
    return args[args.index(flag) + 1] if flag in args else None


def kinds(topology):
    out: dict[str, int] = {}
    for c in topology.components:
        out[c.kind] = out.get(c.kind, 0) + 1
    return out


# -- every topology ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_every_instance_has_a_proxy_named_after_it_and_is_advertised_at_it(name):
    topo = build_topology(name)
    proxies = {p.name: p for p in topo.proxies}
    assert sorted(proxies) == sorted(c.instance for c in topo.instances())
    for c in topo.instances():
        assert c.proxy == c.instance and c.address == proxies[c.instance].listen
    assert len(topo.proxies) == TOTAL


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_no_two_listeners_share_a_port(name):
    topo = build_topology(name, counts={"catalog": 7})
    ports = [p for c in topo.components for p in c.ports()]
    ports += [int(p.listen.rsplit(":", 1)[1]) for p in topo.proxies]
    assert len(ports) == len(set(ports))


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_start_order_is_toxiproxy_controlplane_apps_sidecars_gateway(name):
    topo = build_topology(name)
    order = [g[0].kind for g in topo.groups()]
    expected = ["toxiproxy", "controlplane", "service"]
    if TOPOLOGIES[name].sidecars:
        expected.append("sidecar")
    if TOPOLOGIES[name].gateway:
        expected.append("gateway")
    expected.append("dashboard")  # last: it only observes, nothing waits for it
    assert order == expected


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_orders_instances_share_one_sqlite_file_in_the_run_dir(name):
    topo = build_topology(name)
    dbs = {arg(c, "--db") for c in topo.instances("orders")}
    assert dbs == {f"{RUN_DIR}/orders.sqlite3"}
    assert all(arg(c, "--db") is None for c in topo.instances() if c.service != "orders")
    cmd = topo.instances("orders")[0].command("py", run_dir="/runs/x")
    assert cmd[:3] == ["py", "-m", "services.orders"] and "/runs/x/orders.sqlite3" in cmd


def test_python_components_keep_module_and_args_apart_from_the_interpreter():
    topo = build_topology("edge-mesh")
    cp = topo.component("controlplane")
    assert cp.module == "mesh.controlplane" and cp.args[:2] == ("--port", "8500")
    assert cp.command("/usr/bin/python3", run_dir="/r")[:5] == [
        "/usr/bin/python3",
        "-m",
        "mesh.controlplane",
        "--port",
        "8500",
    ]
    assert "/r/controlplane-state.json" in cp.command("/usr/bin/python3", run_dir="/r")
    tox = topo.component("toxiproxy")
    assert tox.module is None
    assert tox.command(toxiproxy="/opt/tp") == ["/opt/tp", "-host", "127.0.0.1", "-port", "8474"]
    assert tox.health_url == "http://127.0.0.1:8474/version"


# -- edge ---------------------------------------------------------------------------------


def test_edge_apps_register_themselves_at_their_proxy_and_call_out_via_the_gateway():
    topo = build_topology("edge")
    assert kinds(topo) == {"toxiproxy": 1, "controlplane": 1, "service": TOTAL, "gateway": 1, "dashboard": 1}
    for c in topo.instances():
        assert arg(c, "--register") == "http://127.0.0.1:8500"
        assert arg(c, "--advertise") == c.address
        assert arg(c, "--ttl-s") == "3"
    storefront = topo.instances("storefront")[0]
    assert arg(storefront, "--outbound") == "http://127.0.0.1:8081"
    proxy = next(p for p in topo.proxies if p.name == "catalog-1")
    assert proxy.upstream == f"127.0.0.1:{topo.component('catalog-1').listen['port']}"
    assert topo.gateway_config["internal_listen"] == "127.0.0.1:8081"
    assert topo.component("gateway").listen == {"listen": 8080, "internal": 8081, "admin": 9901}
    assert topo.gateway_config["admin_listen"] == "127.0.0.1:9901" and topo.endpoints.gateway_admin.endswith(":9901")


def test_edge_gateway_config_follows_the_contract():
    topo = build_topology("edge")
    cfg = topo.gateway_config
    assert cfg["listen"] == "127.0.0.1:8080"
    assert cfg["control_plane"] == "http://127.0.0.1:8500"
    assert cfg["proxy_name"] == "gateway"
    assert cfg["composition"] == {"enabled": True}
    routes = {r["name"]: r for r in cfg["routes"]}
    assert set(routes) == set(SERVICES)
    assert routes["catalog"] == {
        "name": "catalog",
        "prefix": "/api/catalog",
        "service": "catalog",
        "rewrite": "/products",
        "auth": "api-key-or-jwt",  # the demo key, or a bearer JWT from the control plane (issue 15)
    }
    assert cfg["jwt"] == {}  # the control plane's issuer, gatemesh.security.jwt's defaults
    assert routes["orders"]["rewrite"] == "/orders"
    assert cfg["apimgmt"]["keys"]["demo-key"] == {"routes": ["*"]}
    assert cfg["apimgmt"]["rate_limit"]["rate_per_s"] == 500  # sized for the load examples (issue 12)
    assert cfg["policies"] == {"*": {}}
    assert json.loads(topo.files["gateway.json"]) == cfg
    assert arg(topo.component("gateway"), "--config") == f"{RUN_DIR}/gateway.json"
    assert topo.endpoints.gateway == "http://127.0.0.1:8080" and topo.api_key == "demo-key"


# -- mesh and its relatives ----------------------------------------------------------------


def test_mesh_puts_a_sidecar_behind_each_proxy_and_has_no_gateway():
    topo = build_topology("mesh")
    assert kinds(topo) == {"toxiproxy": 1, "controlplane": 1, "service": TOTAL, "sidecar": TOTAL, "dashboard": 1}
    assert topo.gateway_config is None and topo.endpoints.gateway is None and topo.api_key is None
    for app in topo.instances():
        sidecar = topo.component(f"sidecar-{app.instance}")
        proxy = next(p for p in topo.proxies if p.name == app.instance)
        assert "--register" not in app.args
        assert proxy.upstream == f"127.0.0.1:{sidecar.listen['inbound']}"
        assert arg(sidecar, "--advertise") == proxy.listen
        assert arg(sidecar, "--app") == f"127.0.0.1:{app.listen['port']}"
        assert arg(sidecar, "--inbound-port") == str(sidecar.listen["inbound"])
        assert arg(app, "--outbound") == f"http://127.0.0.1:{sidecar.listen['outbound']}"
        assert arg(sidecar, "--control-plane") == "http://127.0.0.1:8500"
        assert "--expose" not in sidecar.args
    first_storefront = topo.component("sidecar-storefront-1")
    assert topo.endpoints.entry == f"http://127.0.0.1:{first_storefront.listen['inbound']}"
    assert topo.endpoints.storefront == topo.endpoints.entry


def test_edge_mesh_is_mesh_plus_a_gateway_without_internal_listener():
    mesh, both = build_topology("mesh"), build_topology("edge-mesh")
    assert [c for c in both.components if c.kind != "gateway"] == list(mesh.components)
    assert "internal_listen" not in both.gateway_config
    assert both.component("gateway").listen == {"listen": 8080, "admin": 9901}
    assert both.endpoints.entry == "http://127.0.0.1:8080"
    assert both.endpoints.storefront == "http://127.0.0.1:8080/api/storefront"


def test_sidecar_gateway_exposes_storefront_sidecars_and_configures_the_control_plane():
    topo = build_topology("sidecar-gateway")
    exposed = [c.name for c in topo.components if "--expose" in c.args]
    assert exposed == ["sidecar-storefront-1", "sidecar-storefront-2"]
    assert topo.endpoints.gateway is None and topo.gateway_config is None
    assert topo.api_key == "demo-key"
    assert topo.apimgmt == build_topology("edge").gateway_config["apimgmt"]
    assert topo.endpoints.entry == f"http://127.0.0.1:{topo.component('sidecar-storefront-1').listen['inbound']}"


def test_only_sidecar_gateway_pushes_api_management_to_the_control_plane():
    assert [n for n in TOPOLOGIES if build_topology(n).apimgmt is not None] == ["sidecar-gateway"]


# -- ports ----------------------------------------------------------------------------------


def test_default_port_plan():
    plan = PortPlan()
    assert (plan.gateway, plan.gateway_internal, plan.controlplane, plan.toxiproxy) == (8080, 8081, 8500, 8474)
    assert plan.slot(0) == {"app": 18000, "proxy": 18001, "sidecar_inbound": 18002, "sidecar_outbound": 18003}
    topo = build_topology("edge-mesh")
    assert min(p for p in topo.all_ports() if p >= 18000) == 18000
    assert all(p < 19000 for p in topo.all_ports() if p >= 18000)


def test_from_base_keeps_every_port_in_its_thousand():
    for base in (20000, 21000, 30000):
        topo = build_topology("edge", PortPlan.from_base(base), {"catalog": 16, "orders": 16})
        assert all(base <= p <= base + 999 for p in topo.all_ports()), base
        assert topo.endpoints.gateway == f"http://127.0.0.1:{base + 80}"
        assert topo.endpoints.toxiproxy_api == f"http://127.0.0.1:{base + 474}"
        assert topo.endpoints.controlplane == f"http://127.0.0.1:{base + 500}"


def test_neighbouring_bases_do_not_collide():
    a = build_topology("edge-mesh", PortPlan.from_base(20000), {s: 16 for s in SERVICES})
    b = build_topology("edge-mesh", PortPlan.from_base(21000), {s: 16 for s in SERVICES})
    assert not set(a.all_ports()) & set(b.all_ports())


def test_instance_slots_skip_the_fixed_ports():
    plan = PortPlan.from_base(20000)
    fixed = set(plan.fixed_ports().values())
    for i in range(plan.capacity()):
        assert not fixed & set(plan.slot(i).values())


def test_ports_are_deterministic_and_do_not_move_when_scaling():
    small = build_topology("mesh", counts={"catalog": 2})
    big = build_topology("mesh", counts={"catalog": 6, "orders": 4})
    assert build_topology("mesh", counts={"catalog": 2}) == small
    for c in small.components:
        assert big.component(c.name) == c
    assert rescale(small, {"catalog": 6, "orders": 4}) == big


def test_scaled_removes_the_highest_numbers():
    topo = rescale(build_topology("edge"), {"catalog": 1})
    assert [c.name for c in topo.instances("catalog")] == ["catalog-1"]
    assert topo.counts["catalog"] == 1 and topo.counts["pricing"] == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gateway": 0},
        {"toxiproxy": 70000},
        {"gateway": 8500},
        {"range_start": 100, "range_end": 100},
    ],
)
def test_bad_port_plans_are_refused(kwargs):
    with pytest.raises(TopologyError):
        PortPlan(**kwargs)


@pytest.mark.parametrize("base", [0, 80, 65000, "20000"])
def test_bad_port_base_is_refused_with_a_sentence(base):
    with pytest.raises(TopologyError, match="port base"):
        PortPlan.from_base(base)


def test_a_range_too_small_for_the_counts_is_refused():
    plan = PortPlan(range_start=30000, range_end=30040)  # 10 slots
    with pytest.raises(TopologyError, match="slots"):
        build_topology("edge", plan)


# -- counts and names ------------------------------------------------------------------------


def test_default_counts():
    assert DEFAULT_COUNTS == {"catalog": 3, "pricing": 2, "inventory": 2, "reviews": 2, "storefront": 2, "orders": 2}
    topo = build_topology("edge")
    assert [c.name for c in topo.instances("catalog")] == ["catalog-1", "catalog-2", "catalog-3"]


def test_parse_scale():
    assert parse_scale(["catalog=5"]) == {"catalog": 5}
    assert parse_scale(["catalog=5,pricing=1", " orders = 3 "]) == {"catalog": 5, "pricing": 1, "orders": 3}
    assert parse_scale([]) == {}


@pytest.mark.parametrize(
    "spec, says",
    [
        ("catalog", "SERVICE=COUNT"),
        ("=3", "SERVICE=COUNT"),
        ("catalog=", "SERVICE=COUNT"),
        ("catalog=two", "whole number"),
        ("catalog=0", "from 1 to"),
        ("catalog=99", "from 1 to"),
        ("payments=2", "unknown service 'payments'"),
    ],
)
def test_bad_scale_specs_say_what_is_wrong(spec, says):
    with pytest.raises(TopologyError, match=says):
        parse_scale([spec])


def test_unknown_topology_names_the_choices():
    with pytest.raises(
        TopologyError, match="unknown topology 'meshy'; choose one of: edge, mesh, edge-mesh, sidecar-gateway"
    ):
        build_topology("meshy")


def test_bad_counts_from_python_are_refused():
    with pytest.raises(TopologyError):
        build_topology("edge", counts={"catalog": 0})
    with pytest.raises(TopologyError):
        build_topology("edge", counts={"nope": 1})


def test_topology_is_json_ready():
    data = build_topology("sidecar-gateway").to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["components"][0]["name"] == "toxiproxy"
