"""gatemesh.security.ca: leaves carry the SPIFFE identity the caller proved; a root
rotation never leaves a leaf its peers' bundle cannot verify."""

from __future__ import annotations

import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gatemesh.security.ca import CertificateAuthority, Root, dns_name, spiffe_id


def csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anything the client likes")])
    )
    return req.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def sans(pem: str) -> tuple[list[str], list[str]]:
    ext = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return ext.value.get_values_for_type(x509.UniformResourceIdentifier), ext.value.get_values_for_type(x509.DNSName)


def issuer_of(pem: str) -> x509.Name:
    return x509.load_pem_x509_certificate(pem.encode()).issuer


def test_a_leaf_names_the_service_given_not_what_the_csr_asks_for():
    ca = CertificateAuthority([Root.generate(1)], leaf_lifetime_s=60)
    pem, lifetime = ca.sign(csr(), "catalog")
    assert sans(pem) == (["spiffe://gatemesh.local/service/catalog"], ["catalog.service.gatemesh.local"])
    assert (spiffe_id("catalog"), dns_name("catalog")) == ("spiffe://gatemesh.local/service/catalog", sans(pem)[1][0])
    leaf = x509.load_pem_x509_certificate(pem.encode())
    assert lifetime == 60 and 55 <= (leaf.not_valid_after_utc.timestamp() - time.time()) <= 61


def test_a_bad_csr_is_one_sentence():
    ca = CertificateAuthority([Root.generate(1)])
    with pytest.raises(ValueError, match="not a PEM certificate signing request"):
        ca.sign("-----BEGIN NONSENSE-----", "catalog")


def test_rotation_puts_the_new_root_in_the_bundle_before_it_signs_then_retires_the_old(monkeypatch):
    ca = CertificateAuthority([Root.generate(1)], leaf_lifetime_s=30)
    old = ca.roots[0].cert.subject
    now = time.time()
    assert ca.rotate() == 30
    assert ca.bundle().count("BEGIN CERTIFICATE") == 2  # every renewal from now on carries both roots
    assert issuer_of(ca.sign(csr(), "x")[0]) == old  # but the old one still signs for a lifetime
    monkeypatch.setattr(time, "time", lambda: now + 31)
    new_leaf = ca.sign(csr(), "x")[0]
    assert issuer_of(new_leaf) != old
    assert ca.retire() == 1 and ca.bundle().count("BEGIN CERTIFICATE") == 1
    assert issuer_of(ca.sign(csr(), "x")[0]) == issuer_of(new_leaf)


def test_the_ca_survives_a_restart_with_its_roots(tmp_path):
    path = tmp_path / "ca.json"
    first = CertificateAuthority.ensure(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert CertificateAuthority.ensure(path).bundle() == first.bundle()


def test_leaf_lifetime_is_validated_with_a_sentence():
    with pytest.raises(ValueError, match="leaf lifetime"):
        CertificateAuthority([Root.generate(1)], leaf_lifetime_s=0)
