"""The runner's part in trust: it makes the run's credentials and hands each part its own.

- the control plane gets the credentials file's path (``--credentials``) and is told never
  to admit the Toxiproxy API as a service address (``--forbid-address``);
- whoever registers an instance (its sidecar, or the app itself where there is none) gets
  that instance's bootstrap token in ``$GATEMESH_BOOTSTRAP_TOKEN``, and nothing else gets
  a token: an app behind a sidecar cannot register at all; the gateway gets one for its
  workload identity (``gateway/gateway``: a certificate, never a registration);
- the admin token stays in the run directory (0600) for the CLI; no child inherits it;
- an app behind a sidecar and that sidecar get the instance's *app secret*
  (``$GATEMESH_APP_SECRET``): the sidecar adds it on the inbound hop and the app refuses
  any call without it (403 ``not-via-sidecar``) but one with the admin token, which the
  app knows only by its SHA-256 (``$GATEMESH_ADMIN_TOKEN_SHA256``). Apps that register
  themselves (the edge topology, no sidecar) get neither: their port is their front door.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gatemesh.security import credentials as run_credentials
from gatemesh.topology import Component, Topology
from gatemesh.topology.model import CONTROLPLANE, GATEWAY, SERVICE, SIDECAR


def credentials_of(run_dir: Path) -> run_credentials.Credentials:
    """The run's credentials (``<run_dir>/credentials.json``, 0600), made on first use."""
    return run_credentials.ensure(run_dir / run_credentials.CREDENTIALS_FILE)


def extra_args(component: Component, topology: Topology, run_dir: Path) -> list[str]:
    if component.kind != CONTROLPLANE:
        return []
    toxiproxy = urlsplit(topology.endpoints.toxiproxy_api).netloc
    path = run_dir / run_credentials.CREDENTIALS_FILE
    return ["--credentials", str(path), "--forbid-address", toxiproxy]


def registers(component: Component) -> bool:
    return component.kind == SIDECAR or (component.kind == SERVICE and "--register" in component.args)


def bootstrap_identity(component: Component) -> tuple[str, str] | None:
    """(service, instance) of the bootstrap token ``component`` gets, or None for none
    (the compose rendering hands the same tokens out by volume)."""
    if registers(component) and component.service and component.instance:
        return str(component.service), str(component.instance)
    if component.kind == GATEWAY:  # its workload identity (mTLS to the sidecars): service "gateway"
        return "gateway", "gateway"
    return None


def app_secret_identity(component: Component) -> tuple[str, str] | None:
    """(service, instance) of the app secret ``component`` gets: an app behind a sidecar, and
    that sidecar; None for everyone else (an app that registers itself has no sidecar)."""
    behind_sidecar = component.kind == SERVICE and not registers(component)
    if (component.kind == SIDECAR or behind_sidecar) and component.service and component.instance:
        return str(component.service), str(component.instance)
    return None


def apply_env(env: dict[str, str], component: Component, credentials: run_credentials.Credentials) -> None:
    """Give ``component`` its bootstrap token if it registers an instance; strip any other."""
    for name in (
        run_credentials.ADMIN_TOKEN_ENV,
        run_credentials.BOOTSTRAP_ENV,
        run_credentials.APP_SECRET_ENV,
        run_credentials.ADMIN_DIGEST_ENV,
    ):
        env.pop(name, None)
    who = bootstrap_identity(component)
    if who is not None:
        env[run_credentials.BOOTSTRAP_ENV] = credentials.instance_token(*who)
    secret_for = app_secret_identity(component)
    if secret_for is not None:
        env[run_credentials.APP_SECRET_ENV] = credentials.app_secret(*secret_for)
        if component.kind == SERVICE:  # the app: the admin token's digest, never the token
            env[run_credentials.ADMIN_DIGEST_ENV] = run_credentials.token_digest(credentials.admin_token)
