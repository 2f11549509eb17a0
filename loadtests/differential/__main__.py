"""python -m loadtests.differential [--write-docs] [--json FILE] [--port-base N] [--cap-s S] [--slow-cap-s S]

Runs the differential corpus (loadtests/differential/corpus.py) through gatemesh's
gateway, a gatemesh sidecar's inbound port, HAProxy and nginx in one run, and prints the
table of answers; --write-docs puts it in docs/http.md between its markers. HAProxy and
nginx come from Debian (scripts/bench.sh installs them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from loadtests.bench.stack import REPO

from .corpus import CASES
from .run import PROXIES, Outcome, Proxies, run_corpus

BEGIN, END = "<!-- differential:begin -->", "<!-- differential:end -->"
TITLES = {
    "gateway": "gatemesh gateway",
    "sidecar": "gatemesh sidecar (inbound)",
    "haproxy": "HAProxy",
    "nginx": "nginx",
}


def table(results: dict[str, dict[str, Outcome]], which: tuple[str, ...]) -> str:
    lines = [
        "| case | group | " + " | ".join(TITLES[w] for w in which) + " | gatemesh reason |",
        "|---|---|" + "---|" * len(which) + "---|",
    ]
    for case in CASES:
        row = results.get(case.name)
        if not row:
            continue
        reason = next((row[w].reason for w in ("gateway", "sidecar") if w in row and row[w].reason), "")
        flag = " ⚠" if case.ambiguous else ""
        lines.append(
            f"| `{case.name}`{flag} | {case.group} | " + " | ".join(row[w].cell for w in which) + f" | {reason or ''} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m loadtests.differential", description=__doc__.splitlines()[0])
    ap.add_argument("--port-base", type=int, default=17600)
    ap.add_argument("--cap-s", type=float, default=5.0, help="the longest one case may take (default 5)")
    ap.add_argument(
        "--slow-cap-s", type=float, default=35.0, help="the longest a slow-sender case may take (default 35)"
    )
    ap.add_argument("--proxies", default=",".join(PROXIES))
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--write-docs", action="store_true", help="put the table in docs/http.md")
    a = ap.parse_args(argv)
    which = tuple(a.proxies.split(","))
    unknown = set(which) - set(PROXIES)
    if unknown:
        ap.error(f"unknown proxies {', '.join(sorted(unknown))}; known: {', '.join(PROXIES)}")
    missing = [t for t in ("haproxy", "nginx") if t in which and shutil.which(t) is None]
    if missing:
        print(
            f"differential: error: {', '.join(missing)} not found (apt-get install {' '.join(missing)}, "
            "or scripts/bench.sh installs them)",
            file=sys.stderr,
        )
        return 2
    run = Path(tempfile.mkdtemp(prefix="gatemesh-differential-"))
    proxies = Proxies(a.port_base, run, which)
    started = time.monotonic()
    try:
        proxies.start()
        results = run_corpus(proxies, cap_s=a.cap_s, slow_cap_s=a.slow_cap_s)
    except (RuntimeError, OSError) as exc:  # OSError: a port, a process or the control plane refused
        print(f"differential: error: {exc}", file=sys.stderr)
        return 2
    finally:
        proxies.stop()
        shutil.rmtree(run, ignore_errors=True)
    text = table(results, which)
    print(text)
    print(f"\n{len(CASES)} cases through {len(which)} proxies in {time.monotonic() - started:.0f} s")
    if a.json:
        Path(a.json).write_text(
            json.dumps({c: {p: o.to_dict() for p, o in row.items()} for c, row in results.items()}, indent=1)
        )
    if a.write_docs:
        doc = REPO / "docs" / "http.md"
        current = doc.read_text()
        if BEGIN not in current or END not in current:
            print(f"differential: error: {doc} has no {BEGIN} … {END} markers", file=sys.stderr)
            return 2
        head, rest = current.split(BEGIN, 1)
        doc.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
