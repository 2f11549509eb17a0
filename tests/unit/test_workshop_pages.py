"""Every lab has its page, the page shows the lab's step exactly as `gatemesh lab hint`
prints it, and the instructor's page lists every lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatemesh.workshop import LABS, LabError, lab

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("item", LABS, ids=[f"{x.number:02d}-{x.slug}" for x in LABS])
def test_each_lab_page_exists_in_the_task_shape_and_shows_the_step(item):
    page = (REPO / item.page).read_text()
    assert page.startswith(f"# Lab {item.number} — "), page[:60]
    for heading in ("## Before you begin", "## Steps", "## What happened", "## Cleanup"):
        assert heading in page, (item.page, heading)
    for command in item.step:
        assert command.removeprefix("gatemesh ") in page, (item.page, command)
    assert f"gatemesh lab start {item.number}" in page


def test_the_instructors_page_lists_every_lab():
    readme = (REPO / "docs/workshop/README.md").read_text()
    for item in LABS:
        assert f"]({Path(item.page).name})" in readme, item.page


def test_an_unknown_lab_is_a_sentence():
    with pytest.raises(LabError, match="there is no lab 99; the labs are 1 to 10"):
        lab(99)
