"""A real PostgreSQL and a real Redis (the Debian packages), each in a folder of its own,
listening on loopback on a free port, run as an unprivileged account when this process is
root (PostgreSQL refuses root), and stopped by PID."""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
from pathlib import Path

from .services import Service, ServiceError, give_to, run_as, unprivileged_user, wait_until

INSTALL_HINT = "install the Debian packages postgresql and redis-server (make servers)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise ServiceError(f"PostgreSQL is not installed: {INSTALL_HINT}")
    return found[-1].parent


class Postgres:
    """A throwaway PostgreSQL cluster: a ``dagster`` role with a random password (TCP logins
    need it) owning a ``dagster`` database."""

    def __init__(self, folder: Path, user: str = "dagster", database: str = "dagster") -> None:
        self.folder, self.user, self.database = folder, user, database
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.account = unprivileged_user("postgres")
        self.service: Service | None = None

    @property
    def url(self) -> str:
        """The URL without the password (that travels in an environment variable)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _conf(self) -> str:
        return "\n".join([
            "listen_addresses = '127.0.0.1'", f"port = {self.port}", f"unix_socket_directories = '{self.folder / 'sock'}'",
            "max_connections = 200", "shared_buffers = 64MB", "log_min_messages = warning",
            # Throwaway data: durability is not wanted here (never copy these to a real server).
            "fsync = off", "synchronous_commit = off", "full_page_writes = off", ""])

    def start(self) -> Postgres:
        pg = postgres_bin()
        data, sock = self.folder / "data", self.folder / "sock"
        give_to(self.account, self.folder, sock)
        run_as(self.account, [str(pg / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                              "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(self._conf())
        self.service = Service.start("postgres", [str(pg / "postgres"), "-D", str(data)], self.folder / "postgres.log",
                                     user=self.account, stop_signal=signal.SIGINT)  # SIGINT: fast shutdown
        ready = [str(pg / "pg_isready"), "-q", "-h", str(sock), "-p", str(self.port)]
        wait_until("postgres", lambda: run_as(self.account, ready) is not None, 60, self.service)
        sql = (f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'; "
               f"CREATE DATABASE {self.database} OWNER {self.user};")
        for statement in sql.split("; "):
            run_as(self.account, [str(pg / "psql"), "-q", "-h", str(sock), "-p", str(self.port), "-U", "postgres",
                                  "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", statement.rstrip(";")])
        return self

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


class Redis:
    """A throwaway Redis: no persistence, loopback only."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.account = unprivileged_user("redis")
        self.service: Service | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> Redis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError(f"redis-server is not installed: {INSTALL_HINT}")
        give_to(self.account, self.folder)
        self.service = Service.start("redis", [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.folder), "--daemonize", "no", "--protected-mode", "yes"], self.folder / "redis.log",
            user=self.account)
        wait_until("redis", self.ping, 30, self.service)
        return self

    def ping(self) -> bool:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping())

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
