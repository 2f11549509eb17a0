"""A lab: one page under docs/workshop/, a start state, the step the attendee takes, and
a check that measures whether the step worked.

Every lab has Istio's task shape — before you begin, steps, expected output, what
happened, cleanup — and one rule: its `check` **fails before the step and passes after**,
with the numbers either way (tests/integration/test_workshop.py replays `step` and holds
every lab to that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .context import LabContext


@dataclass(frozen=True)
class Verdict:
    passed: bool
    sentence: str  # what was measured, in words, ending with "pass" or the reason it failed

    def __str__(self) -> str:
        return ("PASS  " if self.passed else "FAIL  ") + self.sentence


@dataclass(frozen=True)
class Lab:
    number: int
    slug: str  # the page is docs/workshop/NN-slug.md
    title: str
    goal: str  # one sentence: what the attendee will see
    step: tuple[str, ...]  # the gatemesh commands of the lab's step
    hint: str  # what to look at when the check fails
    start: Callable[[LabContext], None]  # the state before the step (after a full reset)
    check: Callable[[LabContext], Verdict]
    minutes: int = 10  # for the instructor's plan

    @property
    def page(self) -> str:
        return f"docs/workshop/{self.number:02d}-{self.slug}.md"


def verdict(passed: bool, measured: str, why_not: str) -> Verdict:
    """``measured`` is the numbers; ``why_not`` says what is missing when it failed."""
    return Verdict(passed, f"{measured}: pass" if passed else f"{measured}: {why_not}")
