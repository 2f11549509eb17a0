"""`gatemesh lint` — will it trip? Checks the policies in force against the topology and
the traffic and faults a lab or experiment will send, and explains each trap with its
numbers and a fix, before anyone waits for a breaker that cannot open.

    setup = Setup("edge-mesh", {"edge": table, "mesh": table}, faults=(Fault("catalog-1", "error"),))
    for finding in lint(setup): print(finding)
"""

from __future__ import annotations

from .checks import CHECKS
from .model import Fault, Finding, LintError, Setup, Traffic

__all__ = ["CHECKS", "Fault", "Finding", "LintError", "Setup", "Traffic", "lint"]


def lint(setup: Setup) -> list[Finding]:
    """Every finding of every check, in check order."""
    return [finding for check in CHECKS for finding in check(setup)]
