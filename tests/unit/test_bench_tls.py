"""The benchmark's mutual-TLS rows (loadtests/bench/tls.py, tlsconf.py, report.py): which rows
run together, what each is compared with, and configs HAProxy and nginx accept with
leaves from gatemesh's own CA."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gatemesh.security.ca import CertificateAuthority, Root
from loadtests.bench.__main__ import with_references
from loadtests.bench.report import handshakes_per_1k, tls_table, with_ratios
from loadtests.bench.stack import HOPS, Stack
from loadtests.bench.tls import TLS_HOPS, strict_sidecar
from loadtests.bench.tlsconf import backend_tls_conf, csr, front_conf, haproxy_tls_conf, write_leaf

KNOWN = HOPS + TLS_HOPS


def test_a_tls_row_brings_its_reference_and_its_plain_twin():
    got = with_references({"sidecar-in-tls-newconn"}, KNOWN)
    # newconn → its HAProxy pair, and its keep-alive twin → haproxy-tls → haproxy; the twin's own twin too
    assert got == {"sidecar-in-tls-newconn", "haproxy-tls-newconn", "sidecar-in-tls", "haproxy-tls", "haproxy"} | {
        "sidecar-in-front"
    }


def test_every_tls_row_names_rows_that_exist():
    names = {h.name for h in KNOWN}
    for hop in TLS_HOPS:
        assert hop.reference in names and (hop.plain is None or hop.plain in names), hop.name


def _row(cpu: float, reference: str, plain: str | None = None, proxies: int = 1, **extra: float) -> dict:
    return {"proxies": ["p"] * proxies, "reference": reference, "plain": plain, "cpu_us": cpu, "c1_p50_ms": 0.2} | extra


def test_ratios_are_to_the_rows_own_reference_and_the_plain_twin():
    rows = with_ratios(
        {
            "haproxy": _row(20.0, "haproxy"),
            "haproxy-tls": _row(40.0, "haproxy"),
            "sidecar-pair": _row(150.0, "haproxy", proxies=2),
            "sidecar-pair-tls": _row(
                200.0, "haproxy-tls", "sidecar-pair", proxies=2, tls_handshakes=8, requests_total=4000
            ),
        }
    )
    tls_row = rows["sidecar-pair-tls"]
    assert tls_row["vs_haproxy"]["cpu_us"] == pytest.approx(5.0)  # 200 / 40, not / 20
    assert tls_row["cpu_per_proxy_vs_haproxy"] == pytest.approx(2.5)
    assert tls_row["cpu_vs_plain"] == pytest.approx(200 / 150) and tls_row["cpu_added_us"] == pytest.approx(50.0)
    assert rows["haproxy-tls"]["vs_haproxy"]["cpu_us"] == pytest.approx(2.0)
    assert handshakes_per_1k(tls_row) == pytest.approx(2.0) and handshakes_per_1k(rows["haproxy-tls"]) is None
    text = tls_table(rows, ["haproxy-tls", "sidecar-pair-tls"])
    assert "| sidecar-pair-tls | 2 | 200.0 | 5.00× haproxy-tls | 2.50× | 1.33× sidecar-pair | +50.0 |" in text
    assert [line.split(" | ")[0] for line in text.splitlines()[2:]] == ["| haproxy-tls", "| sidecar-pair-tls"]


def test_only_rows_ending_at_the_strict_sidecar_count_its_handshakes():
    counted = {h.name for h in TLS_HOPS if strict_sidecar(h)}
    assert counted == {"sidecar-in-tls", "sidecar-pair-tls", "edge-mesh-tls", "sidecar-in-tls-newconn"}


def test_new_connection_frontends_close_every_server_connection_and_keepalive_ones_reuse(tmp_path):
    conf = front_conf(Stack(19900, tmp_path, ()))
    backends = {b.split("\n", 1)[0]: b for b in conf.split("backend ")[1:]}
    for name, body in backends.items():
        newconn = "newconn" in name
        assert ("option http-server-close" in body) == newconn and ("http-reuse never" in body) == newconn, name
        if "tls" in name:  # every mTLS dial: our leaf, the bundle, the peer checked by name, no resumption
            assert "ssl crt" in body and "verify required" in body and "verifyhost" in body and "no-ssl-reuse" in body


def _leaves(run: Path) -> None:
    ca = CertificateAuthority([Root.generate(1)])
    for service in ("bench", "bench-haproxy", "bench-front"):
        key_pem, csr_pem = csr(service)
        write_leaf(run, service, key_pem, ca.sign(csr_pem, service)[0], ca.bundle())


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is installed by scripts/bench.sh")
def test_haproxy_accepts_the_tls_configs_with_leaves_from_the_gatemesh_ca(tmp_path):
    _leaves(tmp_path)
    confs = {
        "both": haproxy_tls_conf(tmp_path, 19901, 19902, True, "bench"),
        "out": haproxy_tls_conf(tmp_path, 19901, 19902, False, "bench-haproxy"),
        "in": haproxy_tls_conf(tmp_path, 19901, 19902, True, None),
        "front": front_conf(Stack(19900, tmp_path, ())),
    }
    for name, conf in confs.items():
        (tmp_path / f"{name}.cfg").write_text(conf)
        out = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / f"{name}.cfg")], capture_output=True, text=True)
        assert out.returncode == 0, f"{name}: {out.stdout}{out.stderr}"
    assert "bind 127.0.0.1:19901 ssl crt" in confs["both"] and "verify required" in confs["both"]
    assert "bind 127.0.0.1:19901\n" in confs["out"]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is installed by scripts/bench.sh")
def test_nginx_accepts_the_tls_backend_config(tmp_path):
    _leaves(tmp_path)
    (tmp_path / "b.conf").write_text(backend_tls_conf(tmp_path, 19903))
    out = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(tmp_path / "b.conf")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_the_history_compares_the_tls_rows_and_counts_with_the_last_run(tmp_path):
    from loadtests.bench import history

    def entry(inbound: float) -> dict:
        rows = {"sidecar-in-tls": {"cpu_us": 90.0, "cpu_vs_ref": 1.6, "cpu_vs_plain": 1.2, "c1_p50_ms": 0.3}}
        return {
            "code": "x",
            "loadavg": [1.0],
            "rows": rows,
            "tls_instructions": [{"hop": "sidecar-in-tls", "per_request": inbound}],
        }

    path = tmp_path / "h.jsonl"
    history.append(path, entry(176_000))
    text = history.compare(history.last(path), entry(158_400))
    assert "| sidecar-in-tls instructions/request (tlscount) | 176,000.00 | 158,400.00 | 0.900× |" in text
    assert "| sidecar-in-tls cpu_vs_plain | 1.20 | 1.20 | 1.000× |" in text
