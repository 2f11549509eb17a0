"""A proxy's workload identity: its key, its certificate from the control plane's CA, and
the TLS contexts built from them, renewed before they expire.

The key never leaves the process: the proxy sends a CSR with its bootstrap token and
gets back a leaf for the service the token proves, plus the trust bundle. At
``RENEW_AT`` of the leaf's lifetime (Linkerd renews at 70 %) it asks again; new contexts
replace the old ones, so new connections use the new certificate while open ones carry
on. The trust bundle comes with every renewal, which is how a root rotation reaches the
proxies during its overlap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from dataclasses import dataclass

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RENEW_AT = 0.7  # of the leaf's lifetime, as Linkerd's proxy renews
RETRY_S = 1.0  # a failed renewal is retried this often (the old leaf still serves until it expires)
CALL_TIMEOUT_S = 5.0
log = logging.getLogger("gatemesh.security.identity")


@dataclass(frozen=True)
class Issued:
    certificate: str
    bundle: str
    lifetime_s: float


def _contexts(key: ec.EllipticCurvePrivateKey, issued: Issued) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts; both demand the peer's certificate from the bundle's roots."""
    # ssl loads a certificate chain only from files: a private directory, gone right after.
    with tempfile.TemporaryDirectory(prefix="gatemesh-leaf-") as tmp:
        cert_path, key_path = os.path.join(tmp, "leaf.pem"), os.path.join(tmp, "leaf.key")
        with open(cert_path, "w") as f:
            f.write(issued.certificate)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.num_tickets = 0  # no resumption is used: no tickets, and a handshake of one known size
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname: the service's DNS SAN
        for ctx in (server, client):
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cert_path, key_path)
            ctx.load_verify_locations(cadata=issued.bundle)
            ctx.verify_mode = ssl.CERT_REQUIRED  # mutual: a peer without a mesh certificate is refused
    return server, client


class WorkloadIdentity:
    def __init__(self, control_plane: str, token: str, name: str) -> None:
        self.url = control_plane.rstrip("/") + "/v1/certificates"
        self.token = token
        self.name = name  # the service this proxy speaks for
        self.server_context: ssl.SSLContext | None = None
        self.client_context: ssl.SSLContext | None = None
        self.spiffe_id: str | None = None
        self.not_after: float = 0.0  # loop time the leaf expires
        self.renewals = 0  # leaves received (the first one included)
        self._task: asyncio.Task[None] | None = None

    async def fetch(self) -> float:
        """Get a leaf now; the lifetime it has. Raises (aiohttp.ClientError, ValueError) on failure."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)]))
            .sign(key, hashes.SHA256())
        )
        # the service is named too: the CA checks it against the token (and an --open one takes it)
        body = {"csr": csr.public_bytes(serialization.Encoding.PEM).decode(), "service": self.name}
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S)) as http:
            async with http.post(self.url, json=body, headers=headers) as resp:
                data = await resp.json()
                if resp.status != 200:
                    raise ValueError(f"the CA refused the CSR ({resp.status}): {data.get('error')}")
        issued = Issued(data["certificate"], data["bundle"], float(data["lifetime_s"]))
        self.server_context, self.client_context = _contexts(key, issued)
        uris = x509.load_pem_x509_certificate(issued.certificate.encode()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        self.spiffe_id = uris.value.get_values_for_type(x509.UniformResourceIdentifier)[0]
        self.not_after = asyncio.get_running_loop().time() + issued.lifetime_s
        self.renewals += 1
        return issued.lifetime_s

    async def start(self) -> None:
        """The first leaf (retried until it comes: a proxy in mTLS mode cannot serve without), then renewals."""
        while True:
            try:
                lifetime = await self.fetch()
                break
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                log.warning("%s: no certificate yet (%s); retrying in %.0fs", self.name, exc, RETRY_S)
                await asyncio.sleep(RETRY_S)
        log.info("%s: identity %s, leaf for %.0fs", self.name, self.spiffe_id, lifetime)
        self._task = asyncio.create_task(self._renew(lifetime), name="identity-renewal")

    async def _renew(self, lifetime: float) -> None:
        while True:
            await asyncio.sleep(lifetime * RENEW_AT)
            while True:
                try:
                    lifetime = await self.fetch()
                    break
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                    log.warning("%s: renewal failed (%s); the current leaf serves meanwhile", self.name, exc)
                    await asyncio.sleep(RETRY_S)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
