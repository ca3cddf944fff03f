"""Running part of the product in a child process: forked and unprivileged when the tests
run as root (root reads a ``chmod 000`` file; ``nobody`` does not), or as a fresh
interpreter with a watchdog that kills it past a time or memory limit and reports its
wall time and peak resident memory."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..helpers import REPO

NOBODY = 65534  # the conventional unprivileged uid/gid; it needs no passwd entry to be used
GIB = 1 << 30


def drop_privileges() -> None:
    """Become ``nobody`` for good when running as root (a normal user has nothing to drop)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_until_eof(fd: int, pid: int, timeout_s: float) -> bytes:
    chunks, deadline = [], time.monotonic() + timeout_s
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise TimeoutError(f"the unprivileged child ran past {timeout_s} s")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def run_unprivileged(fn: Callable[..., Any], *args: Any, timeout_s: float = 600) -> Any:
    """``fn(*args)`` in a forked child that has dropped root for ``nobody``; its JSON-able
    result. Forked rather than started, so the child needs no access to the interpreter's
    files: everything it uses is imported (and warmed up) by the caller beforehand."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test run
        code = 1
        try:
            os.close(read_end)
            drop_privileges()
            _write_all(write_end, json.dumps({"result": fn(*args)}).encode("utf-8"))
            code = 0
        except BaseException:  # noqa: BLE001 - reported to the parent, whatever it is
            _write_all(write_end, json.dumps({"error": traceback.format_exc()}).encode("utf-8"))
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        payload = json.loads(_read_until_eof(read_end, pid, timeout_s) or b'{"error": "no answer"}')
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if "error" in payload:
        raise RuntimeError(f"the unprivileged child failed:\n{payload['error']}")
    return payload["result"]


@contextlib.contextmanager
def shared_tmp(prefix: str) -> Iterator[Path]:
    """A temporary folder the unprivileged child can read; removed afterwards however deep
    or locked its contents are."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(path)], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", str(path)], check=False, capture_output=True)


@dataclass
class ChildResult:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_bytes: int  # the largest resident size the watchdog saw (sampled)
    killed: str | None


def memory_of(pid: int | str, field: str = "VmRSS") -> int:
    """A process's resident memory in bytes from /proc (``VmHWM``: its peak since it last
    started a program; ``ru_maxrss`` also counts the parent's memory before exec)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_module(module: str, args: list[str], home: Path, *, timeout_s: float,
               max_rss_bytes: int = 3 * GIB) -> ChildResult:
    """``python -m module args`` in a fresh interpreter, killed past ``timeout_s`` or ``max_rss_bytes``."""
    env = {**os.environ, "HOME": str(home), "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=env, stdout=out, stderr=err)
        started, killed, status, peak = time.monotonic(), None, 0, 0
        while True:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.monotonic() - started
            peak = max(peak, memory_of(proc.pid))
            if killed is None and (elapsed > timeout_s or peak > max_rss_bytes):
                killed = f"after {elapsed:.0f} s" if elapsed > timeout_s else f"past {max_rss_bytes >> 20} MiB"
                os.kill(proc.pid, signal.SIGKILL)
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return ChildResult(returncode=proc.returncode, stdout=out.read().decode("utf-8", "replace"),
                           stderr=err.read().decode("utf-8", "replace"), wall_s=wall,
                           peak_rss_bytes=peak, killed=killed)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``TimeoutError`` in the test if the block runs past ``seconds`` (a walk that
    loops, an open that blocks on a FIFO) instead of hanging the test run."""
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def nest_folders(top: Path, levels: int, name: str = "d") -> Path:
    """``levels`` folders, one inside the other (one mkdir at a time: a recursive mkdir would
    hit the interpreter's recursion limit)."""
    deep = str(top)
    for _ in range(levels):
        deep += "/" + name
        os.mkdir(deep)
    return Path(deep)
