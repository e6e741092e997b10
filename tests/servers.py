"""Servers a test owns: a PostgreSQL cluster and a redis-server on free ports, so stopping
or restarting them disturbs nobody else (the shared servers on 5432 and 6379 are never
touched).

``private_postgres`` and ``private_redis`` are the fixtures; a test that needs a
server under a name of its own uses the classes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_tool(name: str) -> str | None:
    """PostgreSQL's server tools: on PATH, else where Debian keeps them."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


class PrivatePostgres:
    """A cluster made with ``initdb`` in a temporary directory, trust authentication,
    listening on 127.0.0.1 on a free port."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: the cluster then belongs to ``postgres``.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(root, "postgres")

    def run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [*self.prefix, pg_tool(tool) or tool, *args]
        subprocess.run(command, check=check, capture_output=True, timeout=60)

    def _ctl(self, action: str, *args: str, check: bool = True) -> None:
        self.run("pg_ctl", "-D", str(self.data), action, *args, check=check)

    @property
    def _start_options(self) -> list[str]:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        return ["-o", options, "-l", str(self.data / "server.log"), "-w"]

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        self._ctl("start", *self._start_options)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast", "-w")

    def restart(self) -> None:
        """What an operator's ``pg_ctlcluster … restart`` does: every session is cut
        (``-m fast``), then the server starts again; returns once it accepts connections."""
        self._ctl("restart", "-m", "fast", *self._start_options)

    def kill(self) -> None:
        self._ctl("stop", "-m", "immediate", check=False)


@pytest.fixture
def private_postgres():
    missing = [name for name in ("initdb", "pg_ctl") if not pg_tool(name)]
    assert not missing, f"{missing} not found: install Debian's postgresql package"
    # Not under pytest's tmp_path: as root that sits in a directory ``postgres`` cannot enter.
    root = Path(tempfile.mkdtemp(prefix="mcp-private-pg-"))
    server = PrivatePostgres(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of the test's own, without persistence unless ``directory`` is given
    (then SAVE writes dump.rdb there and a start reads it back)."""

    def __init__(self, directory=None) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.directory = directory

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        snapshot = ["--dir", str(self.directory), "--dbfilename", "dump.rdb"]
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *(snapshot if self.directory else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()
