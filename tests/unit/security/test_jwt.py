"""gatemesh.security.jwt: the control plane's issuer and the gateway's verifier, each
refusal with the reason of the check that failed."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest

from gatemesh.reasons import Reason
from gatemesh.security.jwt import Issuer, JwtConfig, TokenRefused, Verifier

ISSUER = Issuer.generate()


def verifier(**kw) -> Verifier:
    v = Verifier(JwtConfig(**kw))
    v.update(ISSUER.jwks())
    return v


def refused(v: Verifier, token: str) -> Reason:
    with pytest.raises(TokenRefused) as info:
        v.verify(token)
    return info.value.reason


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_good_token_gives_its_claims(alg):
    claims = verifier().verify(ISSUER.mint("alice", alg=alg))
    assert claims["sub"] == "alice"


def test_expired_beyond_the_skew_is_token_expired_within_it_is_accepted():
    v = verifier(clock_skew_s=30)
    kid, (_, key) = next(iter(ISSUER.keys.items()))
    now = int(time.time())

    def token(exp):
        claims = {"iss": ISSUER.issuer, "aud": "gatemesh-api", "sub": "a", "exp": exp}
        return pyjwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})

    assert refused(v, token(now - 60)) == Reason.TOKEN_EXPIRED
    assert v.verify(token(now - 10))["sub"] == "a"  # 10 s late: inside the skew


def test_wrong_audience_wrong_issuer_bad_signature_unknown_key_malformed():
    v = verifier()
    assert refused(v, ISSUER.mint("a", audience="other-api")) == Reason.TOKEN_AUDIENCE
    assert refused(verifier(issuer="https://elsewhere"), ISSUER.mint("a")) == Reason.TOKEN_ISSUER
    good = ISSUER.mint("a")
    head, body, sig = good.split(".")
    tampered = f"{head}.{body}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    assert refused(v, tampered) == Reason.TOKEN_SIGNATURE
    stranger = Issuer.generate()  # same algorithms, keys the JWKS never held
    assert refused(v, stranger.mint("a")) == Reason.TOKEN_UNKNOWN_KEY and v.wants_refresh
    assert refused(v, "not-a-jwt") == Reason.TOKEN_MALFORMED


def test_a_token_signed_with_another_key_under_a_known_kid_is_a_bad_signature():
    v = verifier()
    kid = next(k for k, (alg, _) in ISSUER.keys.items() if alg == "ES256")
    other = Issuer.generate()
    _, key = next(v for v in other.keys.values() if v[0] == "ES256")
    now = int(time.time())
    claims = {"iss": ISSUER.issuer, "aud": "gatemesh-api", "sub": "a", "exp": now + 60}
    forged = pyjwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})
    assert refused(v, forged) == Reason.TOKEN_SIGNATURE


def test_alg_none_and_hs256_are_never_accepted():
    v = verifier()
    kid = next(iter(ISSUER.keys))
    now = int(time.time())
    claims = {"iss": ISSUER.issuer, "aud": "gatemesh-api", "sub": "a", "exp": now + 60}
    none = pyjwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    assert refused(v, none) in (Reason.TOKEN_MALFORMED, Reason.TOKEN_SIGNATURE)


def test_keys_survive_a_save_and_load(tmp_path):
    path = tmp_path / "jwt-issuer.json"
    first = Issuer.ensure(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = Issuer.ensure(path)
    assert again.jwks() == first.jwks()


def test_config_is_validated_with_a_sentence():
    with pytest.raises(ValueError, match="clock_skew_s"):
        JwtConfig(clock_skew_s=-1)
    with pytest.raises(ValueError, match="unknown field"):
        JwtConfig.from_dict({"issuer": "x", "leeway": 3})
