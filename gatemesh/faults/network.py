"""Toxiproxy for the fault API: the one client (``gatemesh.runner.toxiproxy``), raising
``FaultError`` so that a fault command fails with the fault API's one exception."""

from __future__ import annotations

from gatemesh.runner.toxiproxy import ToxiproxyClient as _Client

from .errors import FaultError


class ToxiproxyClient(_Client):
    """One Toxiproxy server's proxies and toxics; failures are ``FaultError`` sentences."""

    error = FaultError


__all__ = ["ToxiproxyClient"]
