"""Who may call a route at the edge: an API key, a bearer JWT, or either (per route).

    "auth": "api-key"         X-Api-Key checked by API management (the default: as before)
    "auth": "jwt"             Authorization: Bearer <JWT>, checked against the control plane's JWKS
    "auth": "api-key-or-jwt"  a bearer token is checked as a JWT; otherwise the API key

Once a request is let through, its credentials are stripped and the identity is named in
``X-Gatemesh-Principal`` (``gatemesh.security.principal``). The JWKS is fetched in the
background (``jwks_loop``); the check itself never waits on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from gatemesh.apimgmt import ApiManager
from gatemesh.http.messages import Request, Response
from gatemesh.reasons import Reason
from gatemesh.refusal import refusal_response
from gatemesh.security.jwt import JwtConfig, TokenRefused, Verifier
from gatemesh.security.principal import api_key_principal, hand_on
from gatemesh.shell import Shell

UNKNOWN_KID_REFETCH_S = 5.0  # an unknown kid fetches the JWKS again, but no more often (a token flood cannot)
NOT_READY_RETRY_S = 1.0  # until the first JWKS arrives
FETCH_TIMEOUT_S = 2.0
log = logging.getLogger("gateway.auth")


def bearer(req: Request) -> str | None:
    value = req.header(b"authorization")
    if value is None or value[:7].lower() != b"bearer ":
        return None
    return value[7:].strip().decode("latin-1") or None


class EdgeAuth:
    def __init__(self, shell: Shell, api: ApiManager, jwt: JwtConfig | None) -> None:
        self.shell = shell
        self.api = api
        self.verifier = Verifier(jwt) if jwt is not None else None

    def check(self, req: Request, route: str, mode: str) -> Response | None:
        """None when ``req`` may call ``route`` (its credentials then stripped), else the refusal."""
        token = bearer(req) if mode != "api-key" else None
        if mode == "jwt" or token is not None:
            return self._jwt(req, token)
        api = self.api
        if api.enabled:
            refused = self.shell.api_refusal(api, req, route)
            if refused is not None:
                return refused
            hand_on(req, api_key_principal(req))
        else:
            hand_on(req, None)
        return None

    def _jwt(self, req: Request, token: str | None) -> Response | None:
        name = self.shell.name_bytes
        if self.verifier is None:
            return refusal_response(Reason.TOKEN_ISSUER, "this gateway is configured without a JWT issuer", name)
        if token is None:
            return refusal_response(Reason.MISSING_TOKEN, "this API needs a JWT in Authorization: Bearer <token>", name)
        try:
            claims = self.verifier.verify(token)
        except TokenRefused as refused:
            return refusal_response(refused.reason, str(refused), name)
        hand_on(req, b"jwt:" + str(claims["sub"]).encode("utf-8", "replace"))
        return None

    async def jwks_loop(self, url: str, stop: asyncio.Event) -> None:
        """Keep the verifier's JWKS fresh until ``stop``; a dead control plane keeps the last one."""
        verifier = self.verifier
        if verifier is None:
            return
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)) as http:
            while not stop.is_set():
                try:
                    async with http.get(url) as resp:
                        if resp.status == 200:
                            verifier.update(await resp.json())
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    log.warning("JWKS fetch from %s failed (%s); keeping the last keys", url, type(exc).__name__)
                wait = verifier.config.jwks_refresh_s if verifier.ready else NOT_READY_RETRY_S
                deadline = asyncio.get_running_loop().time() + wait
                while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), UNKNOWN_KID_REFETCH_S)
                    if verifier.wants_refresh:
                        break
