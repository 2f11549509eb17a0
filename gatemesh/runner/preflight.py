"""Checks before anything starts: is Toxiproxy installed, is every planned port free?"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path

from gatemesh.topology import Topology

from .errors import RunnerError

REPO_ROOT = Path(__file__).resolve().parents[2]
TOXIPROXY_ENV = "GATEMESH_TOXIPROXY"


def find_toxiproxy() -> str:
    """Path of ``toxiproxy-server``: ``$GATEMESH_TOXIPROXY``, ``<repo>/.tools/bin``, then PATH
    (the same order ``scripts/install-toxiproxy.sh`` uses)."""
    configured = os.environ.get(TOXIPROXY_ENV)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise RunnerError(
            f"{TOXIPROXY_ENV}={configured} is not an executable file; fix it, unset it, "
            "or run scripts/setup.sh to install toxiproxy-server"
        )
    local = REPO_ROOT / ".tools" / "bin" / "toxiproxy-server"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("toxiproxy-server")
    if found:
        return found
    raise RunnerError(
        "toxiproxy-server was not found (not on PATH, not in .tools/bin, no "
        f"{TOXIPROXY_ENV}); run scripts/setup.sh to install it"
    )


def port_in_use(host: str, port: int) -> bool:
    """True if something listens on host:port (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_ports(topology: Topology) -> None:
    """Raise ``RunnerError`` naming the first planned port that is taken, and by whom."""
    host = topology.ports.host
    for port, planned_for in sorted(topology.all_ports().items()):
        if port_in_use(host, port):
            who = port_owner(port)
            by = f" by {who}" if who else ""
            raise RunnerError(
                f"port {port} (planned for {planned_for}) is already in use{by}; stop that, "
                "or run on other ports with --port-base (e.g. --port-base 20000)"
            )


def port_owner(port: int) -> str | None:
    """'pid 123 (python -m services.catalog ...)' for the process listening on ``port``,
    when /proc tells (Linux, same user); else None."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    proc = Path("/proc")
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    cmd = cmd.strip()
                    if len(cmd) > 80:
                        cmd = cmd[:77] + "..."
                    return f"pid {pid_dir.name} ({cmd})"
        except OSError:
            continue
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes
