"""The hostile-input catalogue: every kind is a real collection folder holding the hostile
entry and one good document, chunked by the real chunks stage (the MiniLM tokenizer and
its limit) in a child process that runs as an unprivileged user, as a service would (as
root, ``chmod 000`` would not keep anything unreadable).

For every kind: the good document is embedded, no canary planted outside the collection
appears anywhere in the output, the collection never fails as a whole, ``seen = embedded
+ skipped``, and the hostile entry is handled or a recorded skip with its specific reason.
The figures go to ``test-output/reliability/catalogue.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..helpers import REPO
from .catalogue import KINDS
from .child import run_unprivileged, shared_tmp
from .hostile import CANARIES, GOOD, GOOD_TEXT, Handled, Kind, Place, Skip, plant_canaries
from .stage_child import minilm_limit, run_jobs, warm_up

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output" / "reliability"


def _build(tmp: Path) -> list[dict[str, Any]]:
    data_root, outside = tmp / "data", tmp / "outside"
    (data_root / "collections").mkdir(parents=True)
    plant_canaries(data_root, outside)
    jobs = []
    for kind in KINDS:
        folder = data_root / "collections" / kind.name
        folder.mkdir()
        (folder / GOOD).write_text(GOOD_TEXT)
        built = kind.build(Place(folder=folder, data_root=data_root, outside=outside))
        jobs.append({"name": kind.name, "folder": str(built or folder), "collection": kind.name})
    return jobs


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    limit = minilm_limit()
    with shared_tmp("hostile-") as tmp:
        warm_up(limit, tmp / "warm-up")
        results = run_unprivileged(run_jobs, _build(tmp), limit, CANARIES, timeout_s=900)
    return {r["name"]: r for r in results}


def problems_of(kind: Kind, result: dict[str, Any]) -> list[str]:
    """Everything wrong with what became of one kind (empty when all is well)."""
    if result.get("failed"):
        return [f"the whole collection failed: {result['failed']}"]
    acc, docs = result["accounting"], result["documents"]
    reasons = set(acc["skipped_by_reason"])
    problems = [f"leaked {leak!r}" for leak in result["leaks"]]
    if acc["seen"] != acc["embedded"] + acc["skipped"]:
        problems.append(f"seen {acc['seen']} != embedded {acc['embedded']} + skipped {acc['skipped']}")
    if GOOD not in docs:
        problems.append("the good document was not embedded")
    if not all(s["source_path"].isprintable() for s in acc["skipped_documents"]):
        problems.append("a skip's path is not printable")
    expect = kind.expect
    if isinstance(expect, Skip):
        if not reasons or not reasons <= expect.reasons:
            problems.append(f"skipped for {sorted(reasons)}, expected {sorted(expect.reasons)}")
        if acc["embedded"] != expect.embedded:
            problems.append(f"{acc['embedded']} documents embedded, expected {expect.embedded}: {sorted(docs)}")
    else:
        if not expect.check(result):
            problems.append(f"not {expect.what}: {sorted(docs)}")
        if not reasons <= expect.also_skipped:
            problems.append(f"unexpected skips {sorted(reasons - expect.also_skipped)}")
    return problems


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_hostile_kind_is_handled_or_skipped_for_its_reason(kind: Kind, outcomes: dict[str, dict[str, Any]]) -> None:
    assert problems_of(kind, outcomes[kind.name]) == []


def test_the_catalogue_figures(outcomes: dict[str, dict[str, Any]]) -> None:
    ok = {kind.name: not problems_of(kind, outcomes[kind.name]) for kind in KINDS}
    figure = {
        "kinds": len(KINDS),
        "handled": sum(ok[k.name] for k in KINDS if isinstance(k.expect, Handled)),
        "recorded_skips": sum(ok[k.name] for k in KINDS if isinstance(k.expect, Skip)),
        "leaks": sum(len(r.get("leaks", [])) for r in outcomes.values()),
        "whole_collection_failures": sum(1 for r in outcomes.values() if r.get("failed")),
    }
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "catalogue.json").write_text(json.dumps(figure) + "\n")
    (OUTPUT / "catalogue-kinds.json").write_text(json.dumps(
        {k.name: {"expected": "handled" if isinstance(k.expect, Handled) else sorted(k.expect.reasons),
                  "skipped_by_reason": outcomes[k.name].get("accounting", {}).get("skipped_by_reason"),
                  "seconds": round(outcomes[k.name].get("seconds", 0.0), 3), "ok": ok[k.name]} for k in KINDS},
        indent=1) + "\n")
    print(json.dumps(figure))
    assert figure["kinds"] >= 40
    assert figure["leaks"] == 0 and figure["whole_collection_failures"] == 0
    assert figure["handled"] + figure["recorded_skips"] == figure["kinds"]
