"""A throwaway PostgreSQL cluster for the test session, started from the server binaries.

PostgreSQL refuses to run as root, and CI runs as root, so the cluster is run as the
``postgres`` system user when the tests run as root. Set ``YISHI_TEST_POSTGRES_URL`` to use an
existing server instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_DIRS = ("/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    return next((Path(d) for d in BIN_DIRS if Path(d, "pg_ctl").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


START_ATTEMPTS = 3
"""Ports tried before giving up on starting the server."""

# Fast and unsafe: a test cluster is thrown away, so it need not survive a crash.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"}


@contextmanager
def cluster(settings: dict[str, str] | None = None) -> Iterator[str]:
    """Start a cluster on a free loopback port; yield its admin URL; stop and delete it after.

    ``settings`` override the server settings of ``TEST_SETTINGS`` (the benchmark asks for a durable cluster).
    """
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="yishi-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    run = lambda *args: subprocess.run(_as_server_user([str(bin_dir / args[0]), *args[1:]]), check=True, capture_output=True)  # noqa: E731
    try:
        run("initdb", "-D", str(data), "-U", "yishi", "-A", "trust", "-E", "UTF8", "--no-locale")
        server_settings = {**TEST_SETTINGS, **(settings or {})}
        for attempt in range(START_ATTEMPTS):
            # The port is free when asked for, but another process (another xdist worker starting its own
            # cluster, a test's server) may take it before the postmaster binds it: then try another.
            port = _free_port()
            options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 " + " ".join(f"-c {k}={v}" for k, v in server_settings.items())
            try:
                run("pg_ctl", "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start")
                break
            except subprocess.CalledProcessError:
                if attempt == START_ATTEMPTS - 1 or "could not bind" not in (root / "log").read_text(errors="replace"):
                    raise
        yield f"postgresql+psycopg://yishi@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
