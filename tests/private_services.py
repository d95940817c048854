"""Servers of a test's own on loopback: a PostgreSQL cluster and a Redis it may restart,
flush or kill without touching the machine's shared ones, and Pathways itself (`pathways
serve` and `pathways worker`) as real processes against them."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

PATHWAYS = str(Path(sys.executable).parent / "pathways")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")


def missing_binaries() -> str | None:
    """Why these servers cannot run here, or None."""
    if not postgres_bin_dir():
        return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl) are not installed"
    if not shutil.which("redis-server"):
        return "redis-server is not installed"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """initdb into a temporary directory and serve it on a free loopback port. As root,
    every PostgreSQL command runs as the `postgres` user (the server refuses root)."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pathways-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> "PrivatePostgres":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as conf:
            # Loopback only, a socket directory of its own; durability is not what is tested.
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.dir}'\nmax_connections = 200\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        self._ctl("start")
        return self

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def restart(self) -> None:
        """Fast shutdown (every connection dropped, open transactions rolled back), then up again."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from redis import Redis
        client = Redis.from_url(self.url)

        def up() -> bool:
            try:
                return bool(client.ping())
            except Exception:  # noqa: BLE001 - not listening yet
                return False

        wait_for(up, 30, "the private Redis")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


class Process:
    """A `pathways` command in a session of its own: gunicorn forks its workers and the RQ
    worker its scheduler, and killing the group takes all of them."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([PATHWAYS, *self.args], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL the whole group: nothing gets to clean up."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()  # anything left behind in the group


def serve(env: dict[str, str], log: Path, workers: int, threads: int) -> tuple[Process, str]:
    """`pathways serve` on a free port; its base URL once /api/v1/health answers."""
    port = free_port()
    server = Process(["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                      "--threads", str(threads)], env, log).start()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if server.proc.poll() is not None:
            raise AssertionError(f"pathways serve exited with {server.proc.returncode}; see {log}")
        try:
            return requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(healthy, 60, "pathways serve")
    return server, base
