"""Named points in the publishing path where the reliability tests kill the process
(``EMBED_ASSETS_CRASH_AT=<point>``, SIGKILL, as an out-of-memory killer or a power cut
would), to prove that what is left behind is cleaned and never published."""

from __future__ import annotations

import os
import signal

from ..settings import get_settings

POINTS = ("tmp-written", "staged", "renamed", "linked")


def crash_point(name: str) -> None:
    if get_settings().crash_at == name:
        os.kill(os.getpid(), signal.SIGKILL)
