"""docs/patterns/*.md state the config dataclasses' defaults: every knob table lists
every field of its pattern's config, with the default the code has. A new field, or a
changed default, fails here until its page says so."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from gatemesh.policy import Policy

DOCS = Path(__file__).resolve().parents[2] / "docs" / "patterns"
PAGE = {"health_check": "healthcheck.md"}  # the page of a pattern, when not <pattern>.md
ROW = re.compile(r"^\|\s*`(?P<knob>[a-z_]+)`\s*\|\s*`(?P<default>[^`]*)`\s*\|")
CONFIGS = {f.name: getattr(Policy(), f.name) for f in dataclasses.fields(Policy)}


def knob_table(page: Path) -> dict[str, str]:
    """The `| knob | default | why |` table: knob → default as written."""
    rows: dict[str, str] = {}
    in_table = False
    for line in page.read_text().splitlines():
        if re.match(r"^\|\s*knob\s*\|\s*default\s*\|", line):
            in_table = True
            continue
        if in_table:
            m = ROW.match(line)
            if m:
                rows[m["knob"]] = m["default"]
            elif not line.startswith("|"):
                break
    return rows


def as_written(value: object) -> str:
    """A default as the docs write it: true/false/null, numbers without trailing zeros
    (`5.0` may be `5`), sets as sorted comma lists."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (frozenset, set, tuple, list)):
        return ",".join(str(v) for v in sorted(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def written(text: str) -> str:
    try:
        return f"{float(text):g}"
    except ValueError:
        return text.replace(" ", "")


@pytest.mark.parametrize("pattern", sorted(CONFIGS))
def test_the_pattern_page_states_every_default(pattern):
    page = DOCS / PAGE.get(pattern, f"{pattern}.md")
    assert page.exists(), f"{pattern} has no page in docs/patterns"
    table = knob_table(page)
    config = CONFIGS[pattern]
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    assert sorted(table) == sorted(fields), f"{page.name}'s knob table lists {sorted(table)}"
    wrong = {k: (table[k], as_written(v)) for k, v in fields.items() if written(table[k]) != as_written(v)}
    assert wrong == {}, f"{page.name} says (docs, code): {wrong}"


def test_the_table_reader_reads_a_table():
    rows = knob_table(DOCS / "breaker.md")
    assert rows["open_s"] == "5.0" and rows["slow_call_s"] == "null"
