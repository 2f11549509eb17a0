"""``python -m gatemesh.compose.launch NAME=FILE [NAME=FILE ...] -- COMMAND ...``

Reads each FILE (a credential on the container's own read-only volume, ``trust.py``),
puts its content in the environment variable NAME and execs COMMAND in this process's
place. So a part keeps reading its token where the process runner puts it
(``$GATEMESH_BOOTSTRAP_TOKEN``), while the compose file holds only a path: the token is
in no file of the repository and in no container's configured environment.

A missing or empty file, or a malformed argument, is one line on stderr and exit 2
(compose shows it as the container's last log line).
"""

from __future__ import annotations

import os
import re
import sys

PROG = "launch"
NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
MAX_BYTES = 4096  # a token is ~100 bytes: anything bigger is the wrong file


def fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def read_secret(path: str) -> str:
    """The file's content without its trailing newline; ValueError with a sentence."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc} (did the credentials service run?)") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path} holds more than {MAX_BYTES} bytes: not a token")
    text = data.decode("utf-8", "replace").strip()
    if not text:
        raise ValueError(f"{path} is empty (did the credentials service run?)")
    return text


def main(argv: list[str]) -> int:
    if "--" not in argv:
        return fail("usage: python -m gatemesh.compose.launch NAME=FILE ... -- COMMAND ...")
    cut = argv.index("--")
    pairs, command = argv[:cut], argv[cut + 1 :]
    if not command:
        return fail("no command after --")
    env = dict(os.environ)
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not NAME.match(name) or not path:
            return fail(
                f"{pair!r} must be NAME=FILE, NAME in capitals (e.g. GATEMESH_BOOTSTRAP_TOKEN=/run/gatemesh/token)"
            )
        try:
            env[name] = read_secret(path)
        except ValueError as exc:
            return fail(str(exc))
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        return fail(f"cannot run {command[0]}: {exc.strerror or exc}")
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
