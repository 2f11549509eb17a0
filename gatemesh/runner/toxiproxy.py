"""The one Toxiproxy client, on ``toxiproxy-python``: proxies for the runner, toxics and
proxy down/up for the fault API (``gatemesh.faults.network`` subclasses it to raise
``FaultError``).

toxiproxy-python keeps the API address in a class-level global (``APIConsumer.host`` /
``.port``), so one process could only talk to one Toxiproxy. ``ToxiproxyClient`` owns
one server's address and sets the global under a process-wide lock around every call,
so several topologies (several clients) can be driven from one process safely.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from gatemesh.topology import Proxy

from .errors import RunnerError

if TYPE_CHECKING:
    from gatemesh.faults.toxics import Toxic

_API_LOCK = threading.RLock()  # guards toxiproxy-python's class-level APIConsumer address


class ToxiproxyClient:
    """One Toxiproxy server's proxies and toxics. Every failure is one `error` sentence
    (`RunnerError` here; the fault API's subclass raises `FaultError`)."""

    error: type[Exception] = RunnerError

    def __init__(self, api_url: str) -> None:
        parts = urlsplit(api_url if "://" in api_url else f"http://{api_url}")
        if not parts.hostname or not parts.port:
            raise self.error(f"the Toxiproxy API address must look like http://127.0.0.1:8474, got {api_url!r}")
        self.api_url = f"http://{parts.hostname}:{parts.port}"
        self.host, self.port = parts.hostname, parts.port
        self._server = toxiproxy.Toxiproxy()

    @contextmanager
    def _api(self, what: str) -> Iterator[None]:
        with _API_LOCK:
            saved = (APIConsumer.host, APIConsumer.port)
            APIConsumer.host, APIConsumer.port = self.host, self.port
            try:
                yield
            except NotFound as e:
                raise self.error(f"Toxiproxy at {self.api_url}: {what}: not found ({_text(e)})") from None
            except (InvalidToxic, ProxyExists) as e:
                raise self.error(f"Toxiproxy at {self.api_url}: {what}: {_text(e)}") from None
            except requests.RequestException as e:
                raise self.error(f"Toxiproxy at {self.api_url} does not answer ({what}): {e}") from None
            finally:
                APIConsumer.host, APIConsumer.port = saved

    def proxies(self) -> dict[str, toxiproxy.Proxy]:
        with self._api("list proxies"):
            return self._server.proxies()

    def proxy(self, name: str) -> toxiproxy.Proxy:
        with self._api(f"proxy {name}"):
            proxy = self._server.get_proxy(name)
        if proxy is None:
            raise self.error(f"Toxiproxy at {self.api_url} has no proxy named {name!r}")
        return proxy

    def populate(self, proxies: Iterable[Proxy]) -> None:
        """Create (or replace) every proxy in one call (Toxiproxy's ``POST /populate``;
        toxiproxy-python's own ``populate`` makes two calls per proxy)."""
        body = [p.to_api() for p in proxies]
        if body:
            with self._api(f"create {len(body)} proxies"):
                APIConsumer.post("/populate", json=body, timeout=5)

    def delete(self, name: str) -> None:
        """Remove a proxy, best effort: it goes away with the server anyway."""
        try:
            with self._api(f"delete proxy {name}"):
                APIConsumer.delete(f"/proxies/{name}", timeout=5)
        except self.error:
            pass

    def names(self) -> set[str]:
        return set(self.proxies())

    def add_toxic(self, proxy: str, name: str, toxic: Toxic) -> None:
        p = self.proxy(proxy)
        with self._api(f"add {toxic.kind} to {proxy}"):
            p.add_toxic(
                name=name, type=toxic.kind, stream=toxic.stream, toxicity=toxic.toxicity, attributes=toxic.attributes()
            )

    def remove_toxic(self, proxy: str, name: str) -> bool:
        """True if it was there."""
        with _API_LOCK:
            try:
                with self._api(f"remove toxic {name} from {proxy}"):
                    toxiproxy.Proxy(name=proxy, upstream="", enabled=True, listen="").destroy_toxic(name)
                return True
            except self.error as e:
                if "not found" in str(e):
                    return False
                raise

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        with self._api(f"toxics of {proxy}"):
            return [vars(t) for t in self.proxy(proxy).toxics().values()]

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        p = self.proxy(proxy)
        with self._api(f"{'enable' if enabled else 'disable'} {proxy}"):
            p.enable() if enabled else p.disable()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every proxy with its ``enabled`` flag and toxics, in one call (``GET /proxies``)."""
        with self._api("list proxies"):
            return APIConsumer.get("/proxies", timeout=5).json()

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        with self._api("reset"):
            self._server.reset()


def _text(e: Exception) -> str:
    raw = e.args[0] if e.args else ""
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return str(raw).strip()
