"""Self-registration with the control plane (edge topology, where no sidecar does it).

    PUT    {cp}/v1/services/{service}/instances/{id}            {"address","ttl_s","meta"}
    PUT    {cp}/v1/services/{service}/instances/{id}/heartbeat  {"address"} every ttl/3 s; 404 → register again
    DELETE {cp}/v1/services/{service}/instances/{id}            on shutdown

Every call carries ``Authorization: Bearer <token>``, the instance's bootstrap token the
runner hands over in ``$GATEMESH_BOOTSTRAP_TOKEN`` (the control plane lets it write only
this instance); the heartbeat carries the address, so a registration that was overwritten
is corrected within one interval.

While the control plane is down the registrar keeps trying every ttl/3 s and logs
only when its state changes (registered, lost, unreachable), never per attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import quote

import aiohttp

DEREGISTER_TIMEOUT_S = 1.0  # shutdown must not wait long on a dead control plane
MAX_CALL_TIMEOUT_S = 2.0  # one registry call never takes longer than this

log = logging.getLogger("services.kit.registration")


class Registrar:
    def __init__(
        self, control_plane: str, service: str, instance: str, advertise: str, ttl_s: float, token: str | None = None
    ) -> None:
        self.url = (
            f"{control_plane.rstrip('/')}/v1/services/{quote(service, safe='')}/instances/{quote(instance, safe='')}"
        )
        self.body = {"address": advertise, "ttl_s": ttl_s, "meta": {}}
        self.interval_s = ttl_s / 3.0
        self.token = token
        self.registered = False
        self._call_timeout = aiohttp.ClientTimeout(total=min(MAX_CALL_TIMEOUT_S, max(0.2, self.interval_s)))
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task | None = None
        self._state = "starting"  # for logging changes only

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(timeout=self._call_timeout, headers=headers)
        self._task = asyncio.create_task(self._run(), name="registrar")

    async def stop(self) -> None:
        """Stop heartbeating, then deregister (bounded; a dead control plane is fine)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is None:
            return
        try:
            async with self._session.delete(
                self.url, timeout=aiohttp.ClientTimeout(total=DEREGISTER_TIMEOUT_S)
            ) as resp:
                log.info("deregistered from %s (%d)", self.url, resp.status)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.info("could not deregister (%s); the TTL will expire the entry", type(exc).__name__)
        finally:
            await self._session.close()
            self.registered = False

    def _note(self, state: str, message: str, *args) -> None:
        if state != self._state:
            self._state = state
            log.info(message, *args)

    async def _run(self) -> None:
        while True:
            forgotten = False
            try:
                if self.registered:
                    forgotten = await self._heartbeat()
                else:
                    await self._register()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                name = type(exc).__name__
                self._note("unreachable", "control plane unreachable (%s); retrying every %.2fs", name, self.interval_s)
            if not forgotten:  # a forgotten instance registers again right away
                await asyncio.sleep(self.interval_s)

    async def _register(self) -> None:
        assert self._session is not None
        async with self._session.put(self.url, json=self.body) as resp:
            if 200 <= resp.status < 300:
                self.registered = True
                self._note("registered", "registered at %s as %s", self.url, self.body["address"])
            else:
                text = (await resp.text())[:200]
                self._note(
                    f"refused-{resp.status}", "control plane refused the registration (%d): %s", resp.status, text
                )

    async def _heartbeat(self) -> bool:
        """Renew the TTL; True when the control plane no longer knows this instance."""
        assert self._session is not None
        async with self._session.put(f"{self.url}/heartbeat", json={"address": self.body["address"]}) as resp:
            if resp.status == 404:
                self.registered = False
                self._note("forgotten", "the control plane forgot this instance; registering again")
                return True
            if 200 <= resp.status < 300:
                self._note("registered", "heartbeats accepted")
            else:
                self._note(f"heartbeat-{resp.status}", "heartbeat answered %d", resp.status)
            return False
