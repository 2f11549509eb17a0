"""The control plane's certificate authority: workload certificates with a SPIFFE identity.

Each proxy sends a CSR with its bootstrap token; the CA signs a short-lived leaf for the
identity the *token* proves (never what the CSR asks for):

    URI SAN  spiffe://gatemesh.local/service/catalog   (the identity, as Istio and Linkerd name it)
    DNS SAN  catalog.service.gatemesh.local             (so Python's ssl checks it as a hostname)

Root rotation is three steps, so no proxy ever meets a leaf its bundle cannot verify:
``rotate()`` puts a new root in the trust bundle at once but lets it sign only one leaf
lifetime later (by then every proxy has renewed and holds both roots); leaves issued
after that chain to the new root; ``retire()`` drops the roots older than the signer,
to be called once every leaf has been re-issued (another lifetime). Linkerd's manual
trust-anchor rotation goes the same way: bundle first, issuer second, old anchor last.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gatemesh.security.credentials import write_private

TRUST_DOMAIN = "gatemesh.local"
CA_FILE = "ca.json"  # beside credentials.json, 0600: the roots' private keys
ROOT_LIFETIME_S = 365 * 86400  # Linkerd's trust anchor is long-lived too; rotation is what matters
# Linkerd's issued workload certificates last 24 h and rotate on their own.
DEFAULT_LEAF_LIFETIME_S = 86400.0
LEAF_LIFETIME_ENV = "GATEMESH_LEAF_LIFETIME_S"  # a short lifetime for a rotation demo or test
BACKDATE_S = 60  # notBefore a minute early: hosts' clocks disagree by seconds


def spiffe_id(service: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/service/{service}"


def dns_name(service: str) -> str:
    return f"{service}.service.{TRUST_DOMAIN}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Root:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    signs_from: float = 0.0  # wall-clock time it becomes the signer (0: at once)

    @classmethod
    def generate(cls, serial_hint: int) -> Root:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"gatemesh root {serial_hint}")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=BACKDATE_S))
            .not_valid_after(now + dt.timedelta(seconds=ROOT_LIFETIME_S))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def to_dict(self) -> dict[str, str]:
        key = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {"key": key.decode(), "cert": self.pem(), "signs_from": self.signs_from}  # type: ignore[dict-item]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Root:
        key = serialization.load_pem_private_key(d["key"].encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(key, x509.load_pem_x509_certificate(d["cert"].encode()), float(d.get("signs_from", 0.0)))


class CertificateAuthority:
    """The signing root (last of ``roots``) and the bundle of every root still trusted."""

    def __init__(self, roots: list[Root], path: Path | None = None, leaf_lifetime_s: float = DEFAULT_LEAF_LIFETIME_S):
        if not roots:
            raise ValueError("a CA needs at least one root.")
        if not 1 <= leaf_lifetime_s <= 30 * 86400:
            raise ValueError(f"leaf lifetime must be seconds in [1, {30 * 86400}], got {leaf_lifetime_s!r}.")
        self.roots = roots
        self.path = path
        self.leaf_lifetime_s = leaf_lifetime_s
        self.issued = 0  # leaves signed by this process (a metric, and the docs' rotation figures)

    @classmethod
    def ensure(cls, path: Path, leaf_lifetime_s: float = DEFAULT_LEAF_LIFETIME_S) -> CertificateAuthority:
        if path.exists():
            roots = [Root.from_dict(r) for r in json.loads(path.read_text())["roots"]]
            return cls(roots, path, leaf_lifetime_s)
        ca = cls([Root.generate(1)], path, leaf_lifetime_s)
        ca.save()
        return ca

    def save(self) -> None:
        if self.path is not None:
            write_private(self.path, json.dumps({"roots": [r.to_dict() for r in self.roots]}, indent=2) + "\n")

    def bundle(self) -> str:
        """Every trusted root, PEM, newest last."""
        return "".join(r.pem() for r in self.roots)

    def signer(self) -> Root:
        now = time.time()
        return [r for r in self.roots if r.signs_from <= now][-1]

    def rotate(self) -> float:
        """A new root in the bundle now, signing one leaf lifetime from now; when it signs (s from now)."""
        root = Root.generate(len(self.roots) + 1)
        root.signs_from = time.time() + self.leaf_lifetime_s
        self.roots.append(root)
        self.save()
        return self.leaf_lifetime_s

    def retire(self) -> int:
        """Drop the roots older than the signer from the bundle; how many were dropped."""
        keep = self.roots.index(self.signer())
        dropped, self.roots = keep, self.roots[keep:]
        self.save()
        return dropped

    def sign(self, csr_pem: str, service: str) -> tuple[str, float]:
        """A leaf for ``service`` with the CSR's public key: (PEM, lifetime in seconds)."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise ValueError(f"csr is not a PEM certificate signing request: {exc}.") from None
        if not csr.is_signature_valid:
            raise ValueError("csr's signature does not verify: it was not made with the key it carries.")
        root = self.signer()
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
            .issuer_name(root.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=BACKDATE_S))
            .not_valid_after(now + dt.timedelta(seconds=self.leaf_lifetime_s))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(spiffe_id(service)), x509.DNSName(dns_name(service))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(root.key, hashes.SHA256())
        )
        self.issued += 1
        return cert.public_bytes(serialization.Encoding.PEM).decode(), self.leaf_lifetime_s
