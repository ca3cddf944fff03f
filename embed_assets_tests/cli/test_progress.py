"""On a terminal the CLI draws a progress bar per encode (chunks/s, time left); with
--quiet, or when its output is not a terminal, it draws none."""

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import REPO

pytestmark = pytest.mark.slow


def _run_in_terminal(args: list[str], env: dict[str, str]) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "embed_assets.cli", *args], cwd=REPO, env=env,
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    return out.decode(errors="replace")


def test_progress_bars_on_a_terminal_and_none_when_quiet(tmp_path: Path, data_root: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EMBED_ASSETS_") or k == "EMBED_ASSETS_MODEL_CACHE"}
    env.update({"DAGSTER_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "COLUMNS": "120"})
    args = ["run", "--data-root", str(data_root), "--collection", "retrieval-handbook"]
    shown = _run_in_terminal(args, env)
    assert "dense all_minilm_l6_v2" in shown and "sparse" in shown and "chunk/s" in shown
    (data_root / "collections" / "retrieval-handbook" / "more.txt").write_text("Another note to encode.\n")
    quiet = _run_in_terminal([*args, "--quiet"], env)
    assert "chunk/s" not in quiet and "retrieval-handbook: OK" in quiet
