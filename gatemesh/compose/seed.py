"""``python -m gatemesh.compose.seed METHOD URL JSON``: one HTTP call with a JSON body, retried
until it succeeds (≤ 60 s). The ``setup`` service of sidecar-gateway runs it once to PUT
API management to the control plane, the step the process runner does itself; it sends
``$GATEMESH_ADMIN_TOKEN`` as its credential (``gatemesh.compose.launch`` puts it there)."""

from __future__ import annotations

import json
import sys
import time

from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.security.credentials import admin_token, bearer

PROG = "seed"
DEADLINE_S = 60.0
RETRY_S = 0.5


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"{PROG}: error: usage: python -m gatemesh.compose.seed METHOD URL JSON", file=sys.stderr)
        return 2
    method, url, text = argv
    try:
        body = json.loads(text)
    except ValueError as e:
        print(f"{PROG}: error: the body is not JSON ({e})", file=sys.stderr)
        return 2
    deadline = time.monotonic() + DEADLINE_S
    headers = bearer(admin_token(None))  # $GATEMESH_ADMIN_TOKEN, or none (an --open control plane)
    while True:
        try:
            json_request(method.upper(), url, body, timeout_s=5.0, headers=headers)
            print(f"{PROG}: {method.upper()} {url}: ok", flush=True)
            return 0
        except (OSError, HttpError) as e:
            if time.monotonic() > deadline:
                print(f"{PROG}: error: {method.upper()} {url} failed for {DEADLINE_S:.0f}s: {e}", file=sys.stderr)
                return 1
            time.sleep(RETRY_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
