"""python -m tests.fuzz [--minutes N] [-k EXPR]

The fuzz properties of tests/fuzz for a time budget instead of the suite's 100 examples
each: each property in turn for its share of the budget, in batches of 2,000 examples
(hypothesis' `long` profile, a fresh seed per batch). A failure is shrunk and printed as
usual, and kept in .gatemesh/hypothesis so the next run tries it first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCH = 2000  # examples per pytest run: hypothesis' own cap, so every batch ends by itself
PROPERTIES = [
    f"{p.name}::{name}"
    for p in sorted(HERE.glob("test_*.py"))
    for name in (line.split("(")[0][4:] for line in p.read_text().splitlines() if line.startswith("def test_"))
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="the whole budget (default 10)")
    ap.add_argument("-k", default="", help="only properties whose name contains this")
    a = ap.parse_args(argv)
    if a.minutes <= 0:
        ap.error("--minutes must be positive")
    chosen = [p for p in PROPERTIES if a.k in p]
    if not chosen:
        ap.error(f"no property matches {a.k!r}; there are: {', '.join(PROPERTIES)}")
    share_s = a.minutes * 60 / len(chosen)
    env = dict(os.environ, GATEMESH_FUZZ_PROFILE="long", GATEMESH_FUZZ_EXAMPLES=str(BATCH))
    failed, started, total = [], time.monotonic(), 0
    for prop in chosen:
        # Batches of BATCH examples, each with a fresh random seed, until the share is spent.
        end, batches = time.monotonic() + share_s, 0
        while time.monotonic() < end:
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:xdist",
                    "--timeout=0",
                    str(HERE / prop),
                ],
                env=env,
                cwd=HERE.parents[1],
                capture_output=True,
                text=True,
            )
            batches += 1
            if r.returncode != 0:
                failed.append(prop)
                print(f"FAILED  {prop} in batch {batches}\n{(r.stdout + r.stderr)[-4000:]}", flush=True)
                break
        total += batches * BATCH
        print(f"{'ok' if prop not in failed else 'FAILED':<7} {prop}  {batches * BATCH:,} examples", flush=True)
    print(
        f"fuzzed {len(chosen)} properties, {total:,} examples, for {(time.monotonic() - started) / 60:.1f} min; "
        f"{len(failed)} failed",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
