"""Rendered vs committed: the drift check (``python -m gatemesh.compose check``).

A difference is reported by what a person would look for first: a service (container)
the definition has and the file lacks, or the other way round; then the first lines of
a unified diff for anything else (a changed command, port, healthcheck).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

DIFF_LINES = 30


@dataclass(frozen=True)
class Drift:
    path: str  # relative to compose/
    summary: str  # one sentence
    diff: str  # the start of a unified diff ("" for a missing file)

    def __str__(self) -> str:
        return f"{self.path}: {self.summary}" + (f"\n{self.diff}" if self.diff else "")


def compare(expected: Mapping[str, str], directory: Path) -> list[Drift]:
    """Every file of ``expected`` (path → text) that is missing or different in ``directory``."""
    drifts: list[Drift] = []
    for path, want in expected.items():
        target = directory / path
        if not target.exists():
            drifts.append(Drift(path, "missing; run: python -m gatemesh.compose write", ""))
            continue
        have = target.read_text()
        if have == want:
            continue
        diff = "".join(
            list(
                difflib.unified_diff(
                    have.splitlines(keepends=True),
                    want.splitlines(keepends=True),
                    fromfile=f"committed {path}",
                    tofile="rendered from the definition",
                )
            )[:DIFF_LINES]
        )
        drifts.append(Drift(path, _summary(have, want), diff))
    return drifts


def _summary(have: str, want: str) -> str:
    services = _services(have), _services(want)
    if services[0] is None or services[1] is None:
        return "differs from the definition; run: python -m gatemesh.compose write"
    missing = [s for s in services[1] if s not in services[0]]
    extra = [s for s in services[0] if s not in services[1]]
    parts = []
    if missing:
        parts.append(f"lacks service(s) the definition has: {', '.join(missing)}")
    if extra:
        parts.append(f"has service(s) the definition lacks: {', '.join(extra)}")
    if not parts:
        parts.append("same services, different settings")
    return "; ".join(parts) + "; run: python -m gatemesh.compose write"


def _services(text: str) -> list[str] | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return None
    return list(data["services"])
