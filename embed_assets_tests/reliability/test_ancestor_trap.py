"""A collection holding links to its ancestors (the data root, the filesystem root, its
parent, itself) is chunked in bounded time and memory, reading only its own documents.

Run in a fresh interpreter under a watchdog (killed past 60 s or 1.5 GiB), so a walk that
follows the links round and round fails the test instead of exhausting the machine. The
figures go to ``test-output/reliability/ancestor-trap-<trap>.json``.
"""

from __future__ import annotations

import json
import shutil

import pytest

from ..helpers import REPO, SAMPLES
from .child import GIB, run_module, shared_tmp
from .hostile import CANARIES, CANARY_OTHER

OUTPUT = REPO / "test-output" / "reliability"


# Links to the data root and to the collections folder (each turn round the walk meets
# both again: the tree it walks doubles at every turn), and every ancestor at once (the
# data root, the parent, the filesystem root, itself).
TRAPS = {
    "data-root": ({"data-root": "../..", "collections": ".."}, {"symlink_outside": 2}),
    "every-ancestor": ({"data-root": "../..", "parent": "..", "slash": "/", "loop": ".", "sub/back-to-top": "..",
                        "sub/data-root": "../../.."}, {"symlink_loop": 2, "symlink_outside": 4}),
}


@pytest.mark.slow
@pytest.mark.parametrize("trap_name", sorted(TRAPS))
def test_links_to_ancestors_neither_loop_nor_leak(trap_name: str) -> None:
    links, skipped = TRAPS[trap_name]
    with shared_tmp("trap-") as tmp:
        collections = tmp / "data" / "collections"
        shutil.copytree(SAMPLES, collections)
        (collections / "other").mkdir()
        (collections / "other" / "secret.txt").write_text(CANARY_OTHER)
        trap = collections / "trap"
        (trap / "sub").mkdir(parents=True)
        (trap / "good.txt").write_text("The one document at the top of the trap.")
        (trap / "sub" / "doc.txt").write_text("The one document in the sub-folder.")
        for name, target in links.items():
            (trap / name).symlink_to(target)
        spec = tmp / "spec.json"
        spec.write_text(json.dumps({"jobs": [{"name": "trap", "folder": str(trap), "collection": "trap"}],
                                    "canaries": CANARIES}))
        child = run_module("embed_assets_tests.reliability.stage_child", [str(spec)], tmp,
                           timeout_s=60, max_rss_bytes=3 * GIB // 2)
    assert child.killed is None and child.returncode == 0, (child.killed, child.stderr[-3000:])
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["failed"] is None, result
    figures = {"stage_seconds": round(result["seconds"], 3), "wall_seconds": round(child.wall_s, 2),
               "peak_rss_mib": round(result["peak_rss_bytes"] / (1 << 20), 1)}
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"ancestor-trap-{trap_name}.json").write_text(json.dumps(figures) + "\n")
    print(json.dumps(figures))
    acc = result["accounting"]
    assert result["leaks"] == []
    assert sorted(result["documents"]) == ["good.txt", "sub/doc.txt"]
    assert acc["skipped_by_reason"] == skipped
    assert figures["stage_seconds"] < 10 and 0 < result["peak_rss_bytes"] < GIB
