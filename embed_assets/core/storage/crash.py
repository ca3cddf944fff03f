"""Named points where the reliability tests break a run: in the publishing path they kill the
process (``EMBED_ASSETS_CRASH_AT=<point>``, SIGKILL, as an out-of-memory killer or a power cut
would), to prove that what is left behind is cleaned and never published; in a step they
raise (``EMBED_ASSETS_FAIL_AT=<step>:<shard>``), to prove that a failed shard re-runs alone."""

from __future__ import annotations

import os
import signal

from ..settings import get_settings

POINTS = ("tmp-written", "staged", "renamed", "linked")


class InjectedFailure(RuntimeError):
    """The failure a test asked for at a named step."""


def crash_point(name: str) -> None:
    if get_settings().crash_at == name:
        os.kill(os.getpid(), signal.SIGKILL)


def fail_point(name: str) -> None:
    if get_settings().fail_at == name:
        raise InjectedFailure(f"injected failure at {name} (EMBED_ASSETS_FAIL_AT)")
