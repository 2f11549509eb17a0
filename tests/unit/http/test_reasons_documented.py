"""Every Reason is in docs/contracts.md's reasons table, with the status it always gets."""

from pathlib import Path

from gatemesh.reasons import STATUS, Reason

CONTRACTS = Path(__file__).resolve().parents[3] / "docs" / "contracts.md"


def test_every_reason_is_documented_with_its_status():
    rows = [
        line
        for line in CONTRACTS.read_text().split("## Reasons", 1)[1].split("\n## ", 1)[0].splitlines()
        if line.startswith("| `")
    ]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in cells[0].replace("`", "").split(" / "):
            documented[name.strip()] = int(cells[1])
    missing = [r.value for r in Reason if r.value not in documented]
    assert not missing, f"not in docs/contracts.md's reasons table: {missing}"
    wrong = {r.value: (documented[r.value], STATUS[r]) for r in Reason if documented[r.value] != STATUS[r]}
    assert not wrong, f"documented status differs from gatemesh.reasons.STATUS: {wrong}"


def test_each_upstream_error_carries_its_own_reason():
    """The retry policy reads `err.reason`; compiled, a plain annotated class attribute would
    become an instance field that the subclasses never set (it did: AttributeError)."""
    from gatemesh.http import response as r

    expected = {
        r.UpstreamError: Reason.UPSTREAM_ERROR,
        r.ConnectFailed: Reason.CONNECT_FAILED,
        r.UpstreamReset: Reason.UPSTREAM_RESET,
        r.UpstreamIdleTimeout: Reason.UPSTREAM_IDLE_TIMEOUT,
        r.UpstreamProtocolError: Reason.UPSTREAM_PROTOCOL_ERROR,
        r.UpstreamHeadTooLarge: Reason.UPSTREAM_HEAD_TOO_LARGE,
    }
    assert {cls: cls("boom").reason for cls in expected} == expected
