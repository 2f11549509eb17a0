"""A TLS client with a mesh certificate of its own, for tests, demos and fault sizing.

``handshake_bytes`` answers a question byte-counting faults ask under mTLS: Toxiproxy's
``limit_data`` cuts a connection after N bytes, and on a TLS connection the first bytes
are the server's handshake flight, not the answer. A fault meant to lose the answer
after the request was served must count past the handshake (``answer_cut_bytes``).
"""

from __future__ import annotations

import socket
import ssl

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gatemesh.security.identity import Issued, _contexts

# Past the handshake: a TLS record header (5 bytes) and a few bytes of the answer's first
# record, with room for ECDSA signatures' ±2 bytes of DER length in the handshake.
INTO_THE_ANSWER = 12


def client_context(controlplane: str, admin_headers: dict[str, str], service: str = "probe") -> ssl.SSLContext:
    """A client context with a leaf for ``service`` from the control plane's CA (the admin's request)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)])
    )
    pem = csr.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
    resp = requests.post(
        controlplane + "/v1/certificates", json={"csr": pem, "service": service}, headers=admin_headers, timeout=5
    )
    resp.raise_for_status()
    d = resp.json()
    _, client = _contexts(key, Issued(d["certificate"], d["bundle"], d["lifetime_s"]))
    client.check_hostname = False  # a probe checks the chain; which service answers is not its question
    return client


def handshake_bytes(port: int, context: ssl.SSLContext, host: str = "127.0.0.1", timeout_s: float = 5.0) -> int:
    """How many bytes the server at ``port`` sends during a TLS handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=False)
    received = 0
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        while True:
            try:
                tls.do_handshake()
                sock.sendall(outgoing.read())  # the client's Finished
                return received
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed the connection during the handshake") from None
                received += len(data)
                incoming.write(data)


def answer_cut_bytes(port: int, context: ssl.SSLContext) -> int:
    """A ``limit_data`` byte count that cuts a TLS connection inside the answer, not the handshake."""
    return handshake_bytes(port, context) + INTO_THE_ANSWER
