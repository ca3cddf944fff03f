"""The Dagster UI in a real browser: `dg dev` on a temporary instance, headless Chromium
driven by Playwright: the asset graph, a collection folder dropped into the data root and
materialized by the change sensor without a human, a materialization launched from the
UI, and the asset check results."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from embed_assets.runs.instance import open_instance

from ..helpers import REPO, SAMPLES

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
COLLECTION = "ui-sample"
DROPPED = "dropped-later"
SCREENSHOTS = REPO / "test-output" / "ui"
ASSETS = ["chunks", "dense_embeddings", "sparse_vectors", "fused_vectors", "processing_summary", "vector_index"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home, data = tmp_path / "home", tmp_path / "data"
    open_instance(home, data)  # the embedded dagster.yaml: one queued run per collection, run monitoring
    shutil.copytree(SAMPLES / "ops-faq", data / "collections" / COLLECTION)
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "EMBED_ASSETS_DATA_ROOT": str(data), "HF_HUB_OFFLINE": "1",
           "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    log = open(tmp_path / "dagster-dev.log", "wb")
    server = subprocess.Popen([str(Path(sys.executable).with_name("dg")), "dev", "-h", "127.0.0.1", "-p", str(port)],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if "embed_assets" in json.dumps(_graphql(base, "{ workspaceOrError { __typename "
                                                               "... on Workspace { locationEntries { name } } } }")):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            time.sleep(1)
        yield base, data
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


def _wait_for_runs(base: str, partition: str, count: int, timeout_s: float = 400) -> list[str]:
    """The statuses of the partition's runs once ``count`` of them have finished."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = _graphql(base, "{ runsOrError { ... on Runs { results { status tags { key value } } } } }")
        statuses = [r["status"] for r in runs["data"]["runsOrError"]["results"]
                    if {"key": "dagster/partition", "value": partition} in r["tags"]]
        done = [s for s in statuses if s in ("SUCCESS", "FAILURE", "CANCELED")]
        if len(done) >= count and len(done) == len(statuses):
            return sorted(done)
        assert time.monotonic() < deadline, f"runs of {partition}: {statuses}"
        time.sleep(3)


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                    reason="Debian's chromium is installed by `make test`")
def test_materialize_a_collection_from_the_ui(dagster_dev: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, data_root = dagster_dev
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(tmp_path / f"{name}.png"))
            shutil.copy(tmp_path / f"{name}.png", SCREENSHOTS / f"{name}.png")

        def dismiss_welcome() -> None:
            page.wait_for_timeout(1500)
            skip = page.get_by_role("button", name="Skip")
            if skip.count():
                skip.click()

        # The asset graph with all six assets and their lineage.
        page.goto(f"{base}/asset-groups/embedding", wait_until="networkidle")
        dismiss_welcome()
        for asset in ASSETS:
            expect(page.get_by_text(asset, exact=True).first).to_be_visible()
        shot("1-asset-graph")

        # Without a human: the change sensor registers the folder and materializes it, and a folder
        # dropped into the data root while the UI runs is picked up the same way.
        assert _wait_for_runs(base, COLLECTION, 1) == ["SUCCESS"]
        shutil.copytree(SAMPLES / "retrieval-handbook", data_root / "collections" / DROPPED)
        assert _wait_for_runs(base, DROPPED, 1) == ["SUCCESS"]
        page.goto(f"{base}/runs", wait_until="networkidle")
        dismiss_welcome()
        expect(page.get_by_text(f"partition: {DROPPED}").first).to_be_visible()
        expect(page.get_by_text("embed_assets/trigger: new").first).to_be_visible()
        shot("2-automatic-runs")
        page.goto(f"{base}/assets/processing_summary?view=partitions", wait_until="networkidle")
        dismiss_welcome()
        expect(page.get_by_text(DROPPED).first).to_be_visible()
        shot("3-automatic-partitions")

        # A materialization launched from the UI.
        page.goto(f"{base}/asset-groups/embedding", wait_until="networkidle")
        page.get_by_role("button", name="Materialize all…").click()
        page.get_by_text("Select a partition or create one").click()
        page.get_by_text("Select all (2)").click()  # the two collections of the data root
        page.keyboard.press("Escape")
        expect(page.get_by_text("2 partitions", exact=True)).to_be_visible()
        shot("4-launch-dialog")
        page.get_by_role("button", name=re.compile(r"^Launch (2 runs|backfill)$")).click()
        assert _wait_for_runs(base, COLLECTION, 2) == ["SUCCESS", "SUCCESS"]
        assert _wait_for_runs(base, DROPPED, 2) == ["SUCCESS", "SUCCESS"]
        page.goto(f"{base}/runs", wait_until="networkidle")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        shot("5-run-succeeded")

        # The asset checks of the summary, with their results.
        page.goto(f"{base}/assets/processing_summary?view=checks", wait_until="networkidle")
        dismiss_welcome()
        for check in ("manifest_schema_version", "manifest_additive_compatibility"):
            expect(page.get_by_text(check).first).to_be_visible()
        expect(page.get_by_text("Passed").first).to_be_visible()
        shot("6-asset-checks")
        browser.close()
    assert (tmp_path / "6-asset-checks.png").stat().st_size > 10_000
