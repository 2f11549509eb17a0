"""The gateway's config file (JSON or YAML), parsed at the edge into frozen dataclasses.

Every mistake is reported as one `ConfigError` sentence naming the key and what is
allowed, because the gateway prints it as one line and exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gatemesh.address import split_address
from gatemesh.apimgmt import ApiMgmtConfig
from gatemesh.policy import PolicyError, PolicyTable
from gatemesh.security.jwt import JwtConfig

AUTH_MODES = ("api-key", "jwt", "api-key-or-jwt")  # gateway/auth.py says what each checks


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Route:
    name: str  # what API keys grant: {"routes": ["catalog"]}
    prefix: str  # matched on a path-segment boundary: /api/catalog matches /api/catalog/3, not /api/catalogue
    service: str  # the upstream service, as registered in the control plane
    rewrite: str  # replaces the prefix: /api/catalog/3 → /products/3
    auth: str = "api-key"  # how a client proves who it is here (gateway/auth.py); the default is the old behaviour


@dataclass(frozen=True)
class GatewayConfig:
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    internal_listen: tuple[str, int] | None = None  # east-west calls by Host header (edge topology only)
    # The admin API (/-/*) on a listener of its own, never the public one (Envoy's admin
    # address, Kong's Admin API); None: no admin API at all, as Envoy without an `admin:` block.
    admin_listen: tuple[str, int] | None = None
    control_plane: str = "http://127.0.0.1:8500"
    proxy_name: str = "gateway"
    routes: tuple[Route, ...] = ()
    composition: bool = True  # GET /api/products/{id}
    apimgmt: ApiMgmtConfig = field(default_factory=lambda: ApiMgmtConfig.from_dict({}))
    policies: PolicyTable = field(default_factory=lambda: PolicyTable.from_dict({}))
    jwt: JwtConfig | None = None  # None: no route may take a JWT (a "jwt" route is refused at load)


def _address(value: Any, key: str) -> tuple[str, int]:
    try:
        return split_address(value)
    except ValueError as exc:
        raise ConfigError(f"'{key}': {exc}") from None


def _routes(items: Any) -> tuple[Route, ...]:
    if not isinstance(items, list):
        raise ConfigError("'routes' must be a list of {name, prefix, service, rewrite}")
    routes, names = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError(f"routes[{i}] must be a mapping, got {item!r}")
        unknown = set(item) - {"name", "prefix", "service", "rewrite", "auth"}
        if unknown:
            raise ConfigError(
                f"routes[{i}] has unknown key(s) {sorted(unknown)}; known: name, prefix, service, rewrite, auth"
            )
        if item.get("auth", "api-key") not in AUTH_MODES:
            raise ConfigError(f"routes[{i}].auth must be one of {', '.join(AUTH_MODES)}, got {item['auth']!r}")
        for key in ("name", "prefix", "service"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ConfigError(f"routes[{i}].{key} is required and must be a non-empty string")
        prefix = item["prefix"].rstrip("/") or "/"
        if not prefix.startswith("/") or prefix.startswith("/-/"):
            raise ConfigError(
                f"routes[{i}].prefix {prefix!r} must start with '/' and not with '/-/' (the gateway's admin paths)"
            )
        if item["name"] in names:
            raise ConfigError(f"routes[{i}].name {item['name']!r} is used twice; route names must be unique")
        names.add(item["name"])
        routes.append(
            Route(item["name"], prefix, item["service"], item.get("rewrite", prefix), item.get("auth", "api-key"))
        )
    return tuple(routes)


def parse_config(data: Any) -> GatewayConfig:
    if not isinstance(data, Mapping):
        raise ConfigError("the gateway config must be a mapping at the top level")
    known = {
        "listen",
        "internal_listen",
        "admin_listen",
        "control_plane",
        "proxy_name",
        "routes",
        "composition",
        "apimgmt",
        "policies",
        "jwt",
    }
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}; known keys: {', '.join(sorted(known))}")
    comp = data.get("composition", {"enabled": True})
    if not isinstance(comp, Mapping) or not isinstance(comp.get("enabled", True), bool):
        raise ConfigError("'composition' must be {enabled: true|false}")
    cp = data.get("control_plane", "http://127.0.0.1:8500")
    if not isinstance(cp, str) or not cp.startswith("http://"):
        raise ConfigError(f"'control_plane' must be an http:// URL, got {cp!r}")
    try:
        apimgmt = ApiMgmtConfig.from_dict(data.get("apimgmt", {}))
    except ValueError as exc:
        raise ConfigError(f"apimgmt: {exc}") from None
    try:
        policies = PolicyTable.from_dict(data.get("policies", {}) or {})
    except (PolicyError, ValueError, TypeError) as exc:
        raise ConfigError(f"policies: {exc}") from None
    jwt = None
    if data.get("jwt") is not None:
        try:
            jwt = JwtConfig.from_dict(data["jwt"])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"jwt: {exc}") from None
    routes = _routes(data.get("routes", []))
    needs_jwt = [r.name for r in routes if r.auth != "api-key"]
    if needs_jwt and jwt is None:
        raise ConfigError(f"routes {', '.join(needs_jwt)} take a JWT, but the config has no 'jwt' section")
    internal = data.get("internal_listen")
    admin = data.get("admin_listen")
    listen = _address(data.get("listen", "127.0.0.1:8080"), "listen")
    admin_listen = _address(admin, "admin_listen") if admin else None
    if admin_listen is not None and admin_listen[1] in (listen[1], internal and _address(internal, "")[1]):
        raise ConfigError(f"'admin_listen' {admin!r} must be a port of its own, not the public or internal listener's")
    return GatewayConfig(
        listen=listen,
        internal_listen=_address(internal, "internal_listen") if internal else None,
        admin_listen=admin_listen,
        control_plane=cp.rstrip("/"),
        proxy_name=str(data.get("proxy_name", "gateway")),
        routes=routes,
        composition=comp.get("enabled", True),
        apimgmt=apimgmt,
        policies=policies,
        jwt=jwt,
    )


def load_config(path: str | Path) -> GatewayConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"config file {p} is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {first}"
        ) from None
    return parse_config(data)
