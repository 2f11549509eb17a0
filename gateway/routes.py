"""Path-prefix routing: longest prefix wins, matched on segment boundaries."""

from __future__ import annotations

from .config import Route


class RouteTable:
    def __init__(self, routes: tuple[Route, ...]):
        # Longest prefix first, so /api/catalog/special beats /api/catalog.
        self._routes = sorted(
            ((r.prefix.encode(), r.rewrite.encode().rstrip(b"/"), r) for r in routes),
            key=lambda t: len(t[0]),
            reverse=True,
        )

    def match(self, target: bytes) -> tuple[Route, bytes] | None:
        """(route, rewritten target with the query kept) or None."""
        q = target.find(b"?")
        path, query = (target, b"") if q < 0 else (target[:q], target[q:])
        for prefix, rewrite, route in self._routes:
            if path == prefix or (path.startswith(prefix) and (prefix == b"/" or path[len(prefix)] == 0x2F)):
                rest = path[len(prefix) :] if prefix != b"/" else path
                return route, (rewrite + rest or b"/") + query
        return None
