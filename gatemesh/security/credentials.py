"""The run's credentials: an admin token and per-instance bootstrap tokens.

The runner creates ``<run_dir>/credentials.json`` (mode 0600) before it starts anything and
hands the control plane its path. People and the CLI use the admin token (also alone in
``<run_dir>/admin-token``, 0600, for ``curl -H "Authorization: Bearer $(cat …)"``). Each
instance gets a bootstrap token naming its service and instance, derived from a key only
the control plane and the runner hold:

    gm1.<service>.<instance>.<hmac-sha256(key, "<service>/<instance>") in hex>

so the control plane can check any instance's token without a list of them (``scale``
adds instances the control plane was never told about), and a token for ``catalog-2``
cannot be stretched to ``catalog-1``. Ids may hold dots, so the control plane tries each
split of ``<service>.<instance>``; the MAC covers ``service/instance``, so only one fits.

An app behind a sidecar and that sidecar share a third secret, the *app secret*
(``app_secret``: a MAC of ``app/<service>/<instance>``, a label no bootstrap token signs,
since ids hold no ``/``): the sidecar sends it on the inbound hop and the app answers only
calls that carry it (or the admin token, which the app knows only as a SHA-256 digest).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"  # in the run's state directory, 0600
ADMIN_TOKEN_FILE = "admin-token"  # the admin token alone, 0600, for people and scripts
BOOTSTRAP_ENV = "GATEMESH_BOOTSTRAP_TOKEN"  # how the runner hands an instance its token
ADMIN_TOKEN_ENV = "GATEMESH_ADMIN_TOKEN"  # lets a CLI run without the state directory's file
APP_SECRET_ENV = "GATEMESH_APP_SECRET"  # an app and its sidecar: the inbound hop's proof (services/kit/guard.py)
ADMIN_DIGEST_ENV = "GATEMESH_ADMIN_TOKEN_SHA256"  # an app: the admin token's digest, never the token itself
TOKEN_PREFIX = "gm1"  # the format's version: a later format can be told apart
TOKEN_BYTES = 32  # 256 bits, as Kubernetes' service-account and Consul's ACL tokens carry at least


@dataclass(frozen=True)
class Identity:
    """Who a credential speaks for: the admin, or one instance of one service."""

    admin: bool
    service: str | None = None
    instance: str | None = None

    def __str__(self) -> str:
        return "admin" if self.admin else f"{self.service}/{self.instance}"


ADMIN = Identity(admin=True)


@dataclass(frozen=True)
class Credentials:
    admin_token: str
    bootstrap_key: str  # hex; never leaves the runner and the control plane

    def __post_init__(self) -> None:
        for name in ("admin_token", "bootstrap_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) < 32:
                raise ValueError(f"credentials: {name} must be a string of at least 32 characters.")

    @classmethod
    def generate(cls) -> Credentials:
        return cls(secrets.token_urlsafe(TOKEN_BYTES), secrets.token_hex(TOKEN_BYTES))

    def instance_token(self, service: str, instance: str) -> str:
        return f"{TOKEN_PREFIX}.{service}.{instance}.{self._mac(service, instance)}"

    def app_secret(self, service: str, instance: str) -> str:
        """The secret ``instance``'s sidecar hands its app on every inbound call."""
        return hmac.new(
            bytes.fromhex(self.bootstrap_key), f"app/{service}/{instance}".encode(), hashlib.sha256
        ).hexdigest()

    def identify(self, token: str) -> Identity | None:
        """The identity ``token`` proves, or None for an unknown or forged one."""
        if hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return ADMIN
        prefix, _, rest = token.partition(".")
        who, _, mac = rest.rpartition(".")
        if prefix != TOKEN_PREFIX or not who or len(mac) != 64:
            return None
        parts = who.split(".")
        for cut in range(1, len(parts)):
            service, instance = ".".join(parts[:cut]), ".".join(parts[cut:])
            if hmac.compare_digest(mac, self._mac(service, instance)):
                return Identity(admin=False, service=service, instance=instance)
        return None

    def _mac(self, service: str, instance: str) -> str:
        return hmac.new(bytes.fromhex(self.bootstrap_key), f"{service}/{instance}".encode(), hashlib.sha256).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return {"admin_token": self.admin_token, "bootstrap_key": self.bootstrap_key}


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, never briefly wider (O_CREAT with 0600)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # an older file of that name kept its mode through O_TRUNC
    os.replace(tmp, path)


def save(credentials: Credentials, path: Path) -> Path:
    """Write ``path`` and the admin token beside it (``admin-token``), both 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(credentials.to_dict(), indent=2) + "\n")
    write_private(path.parent / ADMIN_TOKEN_FILE, credentials.admin_token + "\n")
    return path


def ensure(path: Path) -> Credentials:
    """The credentials in ``path``, or new ones saved there now."""
    if path.exists():
        return load(path)
    credentials = Credentials.generate()
    save(credentials, path)
    return credentials


def load(path: Path | str) -> Credentials:
    """Read a credentials file; a one-sentence ValueError for a missing, unreadable or bad one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read the credentials file {path}: {exc.strerror or exc}.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the credentials file {path} is not JSON: {exc}.") from None
    if not isinstance(data, dict) or set(data) != {"admin_token", "bootstrap_key"}:
        raise ValueError(f"the credentials file {path} must hold exactly admin_token and bootstrap_key.")
    if path.stat().st_mode & 0o077:
        raise ValueError(f"the credentials file {path} is readable by others: chmod 600 it.")
    return Credentials(data["admin_token"], data["bootstrap_key"])


def admin_token(run_dir: Path | str | None) -> str | None:
    """The admin token for a CLI: $GATEMESH_ADMIN_TOKEN, else the run directory's file."""
    if os.environ.get(ADMIN_TOKEN_ENV):
        return os.environ[ADMIN_TOKEN_ENV]
    if run_dir is None:
        return None
    try:
        return (Path(run_dir) / ADMIN_TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def token_digest(token: str) -> str:
    """What an app is told of the admin token: enough to recognise it, useless as a credential."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header for ``token`` ({} without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}
