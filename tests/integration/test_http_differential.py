"""The differential corpus through gatemesh's gateway and a sidecar's inbound port (the
HAProxy/nginx columns come from `python -m loadtests.differential`; the properties
below are gatemesh's own, so they need neither).

Never forwarded: a message two implementations may frame differently (⚠ in the corpus).
Never hangs: every case gets a final answer or a closed connection within the cap, the
waits shortened to 1 s here (GATEMESH_HTTP_*).
"""

from __future__ import annotations

import pytest

from loadtests.differential.corpus import CASES
from loadtests.differential.run import Proxies, run_corpus

pytestmark = [pytest.mark.integration]
SHORT = {"GATEMESH_HTTP_HEADER_TIMEOUT_S": "1", "GATEMESH_HTTP_BODY_IDLE_TIMEOUT_S": "1"}
GATEMESH = ("gateway", "sidecar")


@pytest.fixture(scope="module")
def results(port_base, port_bases, tmp_path_factory):
    base = port_bases.acquire()
    proxies = Proxies(base, tmp_path_factory.mktemp("differential"), GATEMESH, env=SHORT)
    try:
        proxies.start()
        yield run_corpus(proxies, cap_s=5.0, slow_cap_s=5.0)
    finally:
        proxies.stop()
        port_bases.release(base)


@pytest.mark.parametrize("case", [c for c in CASES if c.ambiguous], ids=lambda c: c.name)
def test_an_ambiguous_message_is_never_forwarded(results, case):
    for hop in GATEMESH:
        out = results[case.name][hop]
        assert not out.forwarded, f"{hop} forwarded {case.name}: {out.forwarded}"
        assert out.statuses and 400 <= out.statuses[-1] < 600 and out.closed, (hop, out.to_dict())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_no_case_hangs_and_nothing_garbled_reaches_the_upstream(results, case):
    for hop in GATEMESH:
        out = results[case.name][hop]
        final = [s for s in out.statuses if s >= 200]
        assert final or out.closed, f"{hop} neither answered nor closed {case.name}: {out.to_dict()}"
        assert not any(s.garbled for s in out.forwarded), f"{hop} passed on bytes the upstream could not parse"
        assert out.seconds < 4.5, f"{hop} took {out.seconds:.1f} s on {case.name}"


@pytest.mark.parametrize("case", [c for c in CASES if c.answer is not None], ids=lambda c: c.name)
def test_an_upstream_answer_is_relayed_well_framed_or_refused_502(results, case):
    for hop in GATEMESH:
        out = results[case.name][hop]
        assert all(s >= 200 for s in out.statuses), f"{hop} relayed an interim answer as one: {out.statuses}"
        expected = 200 if case.name in ("close-delimited", "upstream-100-then-200", "upstream-103-then-200") else 502
        assert out.statuses == [expected], (hop, case.name, out.to_dict())
