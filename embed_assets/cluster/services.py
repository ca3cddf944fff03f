"""Server processes this package starts and stops itself: each runs in its own session with
its output in a log file, and is stopped by its PID (a gentle signal, then SIGKILL to its
process group if it does not exit), so nothing it started is left running."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ServiceError(RuntimeError):
    """A server did not start, or did not become ready."""


def unprivileged_user(preferred: str) -> str | None:
    """The account to run a server as when this process is root (servers that refuse root, and
    servers that need not have it); None when not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (preferred, "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServiceError(f"running as root and no unprivileged account ({preferred}, nobody) to run servers as")


def give_to(user: str | None, *paths: Path) -> None:
    """Make ``paths`` (folders, created if needed) belong to ``user``."""
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def run_as(user: str | None, argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run a short command (as ``user``); its output, or ServiceError with the output's tail."""
    done = subprocess.run(argv, env=env, user=user, group=pwd.getpwnam(user).pw_gid if user else None,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ServiceError(f"{Path(argv[0]).name} failed ({done.returncode}): {(done.stdout + done.stderr)[-1500:]}")
    return done.stdout


class Service(BaseModel):
    """A long-running process this package started."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    @classmethod
    def start(cls, name: str, argv: list[str], log: Path, *, env: dict[str, str] | None = None,
              cwd: Path | None = None, user: str | None = None, stop_signal: int = signal.SIGTERM) -> Service:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                       cwd=cwd, user=user, group=pwd.getpwnam(user).pw_gid if user else None,
                                       start_new_session=True)
        return cls(name=name, process=process, log=log, stop_signal=stop_signal)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text("utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if not self.alive():
            raise ServiceError(f"{self.name} (pid {self.pid}) exited with {self.process.returncode}:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 30.0) -> float:
        """Signal the process, wait for it (and its session's other processes) to exit; SIGKILL
        the session when it does not. Returns the seconds it took."""
        started = time.monotonic()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # stragglers of its session (e.g. a worker's pool processes)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        return time.monotonic() - started


def wait_until(what: str, ready: object, timeout_s: float, service: Service | None = None,
               poll_s: float = 0.5) -> None:
    """Poll ``ready()`` until it is true; ServiceError after ``timeout_s`` or when ``service`` died."""
    deadline = time.monotonic() + timeout_s
    while True:
        if service is not None:
            service.check_alive()
        with contextlib.suppress(Exception):
            if ready():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            tail = f":\n{service.log_tail()}" if service is not None else ""
            raise ServiceError(f"{what} not ready after {timeout_s:.0f}s{tail}")
        time.sleep(poll_s)


def session_members(session_ids: list[int]) -> list[int]:
    """PIDs of live processes in the given sessions (what is left of services after a stop)."""
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) in session_ids:  # state, ppid, pgrp, session
                left.append(int(entry.name))
    return left
