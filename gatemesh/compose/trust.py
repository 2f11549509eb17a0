"""Credentials in compose: made before anything starts, each handed out on a volume of its own.

The process runner writes the run's credentials (``gatemesh.security.credentials``) into
its run directory and hands each part its token in the environment
(``gatemesh.runner.trust``). A compose file must not carry a token, and a plain
``docker compose up`` has no runner, so the rendering does it with compose's own parts:

    service / volume             what it holds                          who mounts it
    --------------------------   ------------------------------------   ----------------------------
    ``credentials`` (one-shot)   makes everything below, then exits 0   every trust volume, read-write
    ``trust-controlplane``       credentials.json, admin-token (0600)   the control plane, read-write:
                                 (+ the CA and JWT keys it makes)       its CA and keys live beside
    ``trust-admin``              admin-token                            the dashboard (and sidecar-
                                                                        gateway's setup), read-only
    ``trust-<component>``        token: that part's bootstrap token;    that container only, read-only
                                 app-secret: a sidecar's and its app's
                                 shared secret (+ the admin token's
                                 SHA-256 for the app, never the token)

The control plane waits for ``credentials`` with ``service_completed_successfully``
(docker-compose >= 1.29 and Compose v2 both take it), and every other part waits for the
control plane. A part reads its file through ``gatemesh.compose.launch``, which puts the
token in the variable the part already reads (``$GATEMESH_BOOTSTRAP_TOKEN``,
``$GATEMESH_APP_SECRET``, ...) and execs it: the token is in no compose file and in no
container's configured environment (``docker inspect`` does not show it). A pod's app
does not mount its sidecar's volume: an app behind a sidecar holds no bootstrap token,
only the app secret it shares with its sidecar (``gatemesh.runner.trust``: it then answers
only calls through that sidecar, or with the admin token).

The credentials outlive a container's restart (a chaos fault), and ``down -v`` removes
them with the volumes; the next ``up`` makes new ones. The admin token, for people:

    docker compose -p gatemesh-edge-mesh -f compose/edge-mesh.yml exec controlplane cat /var/lib/gatemesh/trust/admin-token
"""

from __future__ import annotations

from typing import Any

from gatemesh.runner.trust import app_secret_identity, bootstrap_identity
from gatemesh.security.credentials import (
    ADMIN_DIGEST_ENV,
    ADMIN_TOKEN_ENV,
    ADMIN_TOKEN_FILE,
    APP_SECRET_ENV,
    BOOTSTRAP_ENV,
    CREDENTIALS_FILE,
)
from gatemesh.topology import Topology
from gatemesh.topology.model import CONTROLPLANE, DASHBOARD, SERVICE, Component

from .emit import Flow

CREDENTIALS = "credentials"  # the one-shot service that makes them
CONTROLPLANE_DIR = "/var/lib/gatemesh/trust"  # the control plane's volume (it writes its CA there too)
CREDENTIALS_PATH = f"{CONTROLPLANE_DIR}/{CREDENTIALS_FILE}"
ADMIN_TOKEN_PATH = f"{CONTROLPLANE_DIR}/{ADMIN_TOKEN_FILE}"  # for people: docker compose exec controlplane cat ...
MOUNT = "/run/gatemesh"  # where any other part sees its own volume, read-only
TOKEN_FILE = "token"  # a bootstrap token
SECRET_FILE = "app-secret"  # an app's and its sidecar's shared secret
DIGEST_FILE = "admin-token-sha256"  # what an app knows of the admin token
INIT_DIR = "/trust"  # where the one-shot service mounts every volume: /trust/<owner>
ADMIN = "admin"  # the volume of the parts that act as the admin (dashboard, setup)
LAUNCH = ["python", "-m", "gatemesh.compose.launch"]


def volume(owner: str) -> str:
    return f"trust-{owner}"


class TrustPlan:
    """Who gets which credential in one topology's compose file."""

    def __init__(self, topology: Topology, admins: tuple[str, ...] = ()) -> None:
        self.topology = topology
        self.tokens: dict[str, tuple[str, str]] = {}  # component → (service, instance) of its token
        self.secrets: dict[str, tuple[str, str]] = {}  # component → (service, instance) of its app secret
        self.apps: set[str] = set()  # the apps among them: they get the admin token's digest too
        for c in topology.components:
            who, secret = bootstrap_identity(c), app_secret_identity(c)
            if who is not None:
                self.tokens[c.name] = who
            if secret is not None:
                self.secrets[c.name] = secret
                if c.kind == SERVICE:
                    self.apps.add(c.name)
        self.admins = tuple(c.name for c in topology.components if c.kind == DASHBOARD) + admins

    def owners(self) -> list[str]:
        """Every trust volume's owner, in the order the file lists them."""
        parts = [*self.tokens, *(n for n in self.secrets if n not in self.tokens)]
        return [CONTROLPLANE, *([ADMIN] if self.admins else []), *parts]

    def volumes(self, labels: dict[str, str]) -> dict[str, dict[str, Any]]:
        return {volume(o): {"labels": labels} for o in self.owners()}

    def init_service(self) -> dict[str, Any]:
        """The one-shot service's ``command`` and ``volumes`` (the caller adds image and labels)."""
        argv = ["python", "-m", "gatemesh.compose.credentials", "--dir", INIT_DIR, "--controlplane", CONTROLPLANE]
        if self.admins:
            argv += ["--admin", ADMIN]
        for name, (service, instance) in self.tokens.items():
            argv += ["--token", f"{name}={service}/{instance}"]
        for name, (service, instance) in self.secrets.items():
            argv += ["--app-secret", f"{name}={service}/{instance}"]
        for name in sorted(self.apps):
            argv += ["--admin-digest", name]
        return {
            "command": Flow(argv),
            "volumes": [f"{volume(o)}:{INIT_DIR}/{o}" for o in self.owners()],
        }

    def controlplane_args(self) -> list[str]:
        return ["--credentials", CREDENTIALS_PATH]

    def wrap(self, c: Component | str, argv: list[str], volumes: list[str]) -> list[str]:
        """``argv`` of the part, run through the launcher with its credential; its volume
        appended to ``volumes``. A part that gets no credential is returned as it is."""
        name = c if isinstance(c, str) else c.name
        if not isinstance(c, str) and c.kind == CONTROLPLANE:
            volumes.append(f"{volume(CONTROLPLANE)}:{CONTROLPLANE_DIR}")
            return argv
        pairs = []
        if name in self.tokens:
            pairs.append(f"{BOOTSTRAP_ENV}={MOUNT}/{TOKEN_FILE}")
        if name in self.secrets:
            pairs.append(f"{APP_SECRET_ENV}={MOUNT}/{SECRET_FILE}")
        if name in self.apps:
            pairs.append(f"{ADMIN_DIGEST_ENV}={MOUNT}/{DIGEST_FILE}")
        if pairs:
            volumes.append(f"{volume(name)}:{MOUNT}:ro")
            return [*LAUNCH, *pairs, "--", *argv]
        if name in self.admins:
            volumes.append(f"{volume(ADMIN)}:{MOUNT}:ro")
            return [*LAUNCH, f"{ADMIN_TOKEN_ENV}={MOUNT}/{ADMIN_TOKEN_FILE}", "--", *argv]
        return argv
