"""``python -m gatemesh.compose.credentials --dir /trust --controlplane controlplane [--admin admin]
[--token OWNER=SERVICE/INSTANCE ...] [--app-secret OWNER=SERVICE/INSTANCE ...] [--admin-digest OWNER ...]``:
the compose files' one-shot ``credentials`` service.

Makes the run's credentials (``gatemesh.security.credentials``) once, in
``<dir>/<controlplane>/credentials.json`` (0600, the admin token beside it), and writes
every other credential into its owner's directory: the admin token into
``<dir>/<admin>/admin-token``, each bootstrap token into ``<dir>/<owner>/token``, each
app secret (an app's and its sidecar's) into ``<dir>/<owner>/app-secret`` and the admin
token's SHA-256 (what an app behind a sidecar knows of it) into
``<dir>/<owner>/admin-token-sha256``, all 0600. Each directory is a named volume of its own (``trust.py``), so each container
mounts only its own.

Run again (``up`` after ``stop``, or a restart of the service), it keeps the credentials
it finds and writes the tokens again: the same tokens (they are derived from the key).
It prints where things are, never a token. A bad argument or an unwritable directory is
one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatemesh.security import credentials as run_credentials

PROG = "credentials"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _token(text: str) -> tuple[str, str, str]:
    owner, sep, who = text.partition("=")
    service, slash, instance = who.partition("/")
    if not (sep and slash and owner and service and instance) or "/" in owner or ".." in owner:
        raise argparse.ArgumentTypeError(
            f"{text!r} must be OWNER=SERVICE/INSTANCE, e.g. sidecar-catalog-1=catalog/catalog-1"
        )
    return owner, service, instance


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog=f"python -m gatemesh.compose.{PROG}", description="make gatemesh's credentials for compose")
    p.add_argument("--dir", type=Path, required=True, help="where every owner's volume is mounted")
    p.add_argument("--controlplane", required=True, help="the control plane's directory under --dir")
    p.add_argument("--admin", default=None, help="a directory under --dir that gets the admin token alone")
    p.add_argument("--token", type=_token, action="append", default=[], help="OWNER=SERVICE/INSTANCE (repeatable)")
    p.add_argument("--app-secret", type=_token, action="append", default=[], help="OWNER=SERVICE/INSTANCE (repeatable)")
    p.add_argument("--admin-digest", action="append", default=[], help="OWNER: the admin token's SHA-256 (repeatable)")
    return p.parse_args(argv)


def _write(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # a volume's mount point exists; a test's folder may not
    run_credentials.write_private(path, token + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.dir / args.controlplane / run_credentials.CREDENTIALS_FILE
    try:
        existed = path.exists()
        creds = run_credentials.ensure(path)
        if args.admin:
            _write(args.dir / args.admin / run_credentials.ADMIN_TOKEN_FILE, creds.admin_token)
        for owner, service, instance in args.token:
            _write(args.dir / owner / "token", creds.instance_token(service, instance))
        for owner, service, instance in args.app_secret:
            _write(args.dir / owner / "app-secret", creds.app_secret(service, instance))
        for owner in args.admin_digest:
            if "/" in owner or ".." in owner:
                raise ValueError(f"--admin-digest {owner!r} must name a directory under --dir")
            _write(args.dir / owner / "admin-token-sha256", run_credentials.token_digest(creds.admin_token))
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{PROG}: {'kept' if existed else 'made'} the credentials in {path}; "
        f"{len(args.token)} bootstrap token(s) and {len(args.app_secret)} app secret(s) written, each into its owner's volume",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
