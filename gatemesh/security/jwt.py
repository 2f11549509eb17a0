"""JWT bearer tokens at the edge: an issuer in the control plane, a verifier in the gateway.

The control plane is the testbed's identity provider: it keeps an ES256 and an RS256
signing key (``Issuer``; private keys 0600 beside the run's credentials), serves their
public halves as a JWKS at ``GET /v1/jwks``, and mints tokens for the admin
(``POST /v1/tokens``). The gateway (``Verifier``) fetches that JWKS, as Envoy's
``jwt_authn`` fetches a ``remote_jwks``, and checks every bearer token a route accepts:
signature by the key its ``kid`` names, ``iss``, ``aud``, ``exp`` and ``nbf`` with a
clock skew. Each refusal is a 401 whose reason says which check failed:

    token-malformed    not three base64url parts of JSON, or no kid
    token-unknown-key  a kid the JWKS does not hold (the JWKS is fetched again, at most every 5 s)
    token-signature    the signature does not verify (a tampered token, a wrong key)
    token-expired      exp (+ skew) has passed, or nbf (- skew) is still ahead
    token-audience     aud does not name this gateway's audience
    token-issuer       iss is not the control plane's issuer
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gatemesh.reasons import Reason
from gatemesh.security.credentials import write_private

ALGORITHMS = ("ES256", "RS256")  # what the issue asks for; "none" and HS* are never accepted
DEFAULT_ISSUER = "https://controlplane.gatemesh.local"
DEFAULT_AUDIENCE = "gatemesh-api"
ISSUER_FILE = "jwt-issuer.json"  # beside credentials.json, 0600: the private signing keys


@dataclass(frozen=True)
class JwtConfig:
    issuer: str = DEFAULT_ISSUER  # the control plane's; a token from anyone else is refused
    audience: str = DEFAULT_AUDIENCE  # this gateway's API; a token minted for another API is refused
    # Envoy jwt_authn's clock_skew_seconds default: hosts' clocks disagree by seconds, not minutes.
    clock_skew_s: float = 60.0
    # Envoy's remote_jwks cache_duration default (5 min); an unknown kid fetches sooner.
    jwks_refresh_s: float = 300.0
    jwks_url: str = ""  # "" = the control plane's /v1/jwks

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ValueError("jwt: issuer and audience must be non-empty strings.")
        if not 0 <= self.clock_skew_s <= 600:
            raise ValueError(f"jwt.clock_skew_s must be seconds in [0, 600], got {self.clock_skew_s!r}.")
        if not 1 <= self.jwks_refresh_s <= 86400:
            raise ValueError(f"jwt.jwks_refresh_s must be seconds in [1, 86400], got {self.jwks_refresh_s!r}.")

    @classmethod
    def from_dict(cls, d: Any) -> JwtConfig:
        if not isinstance(d, dict):
            raise ValueError(f"jwt must be an object, got {type(d).__name__}.")
        known = {"issuer", "audience", "clock_skew_s", "jwks_refresh_s", "jwks_url"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"jwt has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        return cls(**d)


class TokenRefused(Exception):
    def __init__(self, reason: Reason, sentence: str) -> None:
        super().__init__(sentence)
        self.reason = reason


class Issuer:
    """The control plane's signing keys: one ES256, one RS256, each under its own kid."""

    def __init__(self, keys: dict[str, tuple[str, Any]], issuer: str = DEFAULT_ISSUER) -> None:
        self.keys = keys  # kid -> (alg, private key)
        self.issuer = issuer

    @classmethod
    def generate(cls) -> Issuer:
        es = ec.generate_private_key(ec.SECP256R1())
        rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls({f"es256-{secrets.token_hex(4)}": ("ES256", es), f"rs256-{secrets.token_hex(4)}": ("RS256", rs)})

    @classmethod
    def ensure(cls, path: Path) -> Issuer:
        """The keys saved in ``path``, or new ones saved there (0600)."""
        if path.exists():
            data = json.loads(path.read_text())
            return cls(
                {
                    kid: (alg, serialization.load_pem_private_key(pem.encode(), password=None))
                    for kid, (alg, pem) in data.items()
                }
            )
        issuer = cls.generate()
        pems = {
            kid: (
                alg,
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ).decode(),
            )
            for kid, (alg, key) in issuer.keys.items()
        }
        write_private(path, json.dumps(pems, indent=2) + "\n")
        return issuer

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, (alg, key) in self.keys.items():
            algorithm = ECAlgorithm if alg == "ES256" else RSAAlgorithm
            jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
            out.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": out}

    def mint(self, sub: str, audience: str = DEFAULT_AUDIENCE, ttl_s: float = 300.0, alg: str = "ES256") -> str:
        kid, (_, key) = next((k, v) for k, v in self.keys.items() if v[0] == alg)
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": audience, "iat": now, "nbf": now, "exp": now + int(ttl_s)}
        return pyjwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


class Verifier:
    """Checks bearer tokens against the JWKS last fetched; ``update`` swaps it."""

    def __init__(self, config: JwtConfig) -> None:
        self.config = config
        self._keys: dict[str, tuple[str, Any]] = {}
        self.wants_refresh = False  # an unknown kid asks the fetcher to try again early

    def update(self, jwks: dict[str, Any]) -> None:
        keys = {}
        for jwk in jwks.get("keys", []):
            alg = jwk.get("alg")
            if alg in ALGORITHMS and isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = (alg, pyjwt.PyJWK(jwk, algorithm=alg).key)
        self._keys = keys
        self.wants_refresh = False

    @property
    def ready(self) -> bool:
        return bool(self._keys)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``TokenRefused`` naming the check that failed."""
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.DecodeError as exc:
            raise TokenRefused(Reason.TOKEN_MALFORMED, f"the bearer token is not a JWT: {exc}") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRefused(Reason.TOKEN_MALFORMED, "the JWT's header names no key (kid)")
        found = self._keys.get(kid)
        if found is None:
            self.wants_refresh = True
            raise TokenRefused(Reason.TOKEN_UNKNOWN_KEY, f"the JWT is signed with key {kid!r}, not one of the issuer's")
        alg, key = found
        c = self.config
        try:
            return pyjwt.decode(
                token,
                key,
                algorithms=[alg],  # the key's own algorithm only: no alg confusion
                audience=c.audience,
                issuer=c.issuer,
                leeway=c.clock_skew_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except pyjwt.ExpiredSignatureError:
            raise TokenRefused(
                Reason.TOKEN_EXPIRED, "the JWT has expired (exp is past, beyond the clock skew)"
            ) from None
        except pyjwt.ImmatureSignatureError:
            raise TokenRefused(
                Reason.TOKEN_EXPIRED, "the JWT is not valid yet (nbf is ahead, beyond the skew)"
            ) from None
        except pyjwt.InvalidAudienceError:
            raise TokenRefused(Reason.TOKEN_AUDIENCE, f"the JWT is not for audience {c.audience!r}") from None
        except pyjwt.InvalidIssuerError:
            raise TokenRefused(Reason.TOKEN_ISSUER, f"the JWT is not issued by {c.issuer!r}") from None
        except pyjwt.InvalidSignatureError:
            raise TokenRefused(Reason.TOKEN_SIGNATURE, "the JWT's signature does not verify") from None
        except pyjwt.MissingRequiredClaimError as exc:
            raise TokenRefused(Reason.TOKEN_MALFORMED, f"the JWT lacks the {exc.claim!r} claim") from None
        except pyjwt.InvalidTokenError as exc:
            raise TokenRefused(Reason.TOKEN_MALFORMED, f"the JWT is invalid: {exc}") from None
