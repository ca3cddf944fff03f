"""The Dagster UI in a real browser: `dagster dev` on a temporary instance, headless
Chromium driven by Playwright: the asset graph, a materialization of one collection
partition launched from the UI, and its asset check results."""

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

from ..helpers import REPO, SAMPLES

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
COLLECTION = "ui-sample"
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
def dagster_dev(tmp_path: Path) -> Iterator[str]:
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    shutil.copytree(SAMPLES / "ops-faq", data / "collections" / COLLECTION)
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "EMBED_ASSETS_DATA_ROOT": str(data), "HF_HUB_OFFLINE": "1"}
    log = open(tmp_path / "dagster-dev.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
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
        yield base
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                    reason="Debian's chromium is installed by `make test`")
def test_materialize_a_collection_from_the_ui(dagster_dev: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base = dagster_dev
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

        # The sensor registers the collection folder as a partition; wait for it.
        deadline = time.monotonic() + 120
        while COLLECTION not in json.dumps(_graphql(base, '{ assetNodes { partitionKeys } }')):
            assert time.monotonic() < deadline, "the sensor did not add the collection partition"
            time.sleep(2)

        # Launch a materialization of that one partition from the UI.
        page.reload(wait_until="networkidle")
        dismiss_welcome()
        page.get_by_role("button", name="Materialize all…").click()
        page.get_by_text("Select a partition or create one").click()
        page.get_by_text("Select all (1)").click()  # the data root holds this one collection
        page.keyboard.press("Escape")
        expect(page.get_by_text("1 partition", exact=True)).to_be_visible()
        shot("2-launch-dialog")
        page.get_by_role("button", name=re.compile(r"^Launch (1 run|backfill)$")).click()

        # Wait for the run to finish, then see its success on the runs page.
        deadline = time.monotonic() + 300
        statuses: list[str] = []
        while not statuses or any(s not in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses):
            if time.monotonic() > deadline:
                shot("timeout")
                pytest.fail(f"the run did not finish in time: {statuses}")
            time.sleep(2)
            runs = _graphql(base, "{ runsOrError { ... on Runs { results { status tags { key value } } } } }")
            statuses = [r["status"] for r in runs["data"]["runsOrError"]["results"]
                        if {"key": "dagster/partition", "value": COLLECTION} in r["tags"]]
        assert statuses == ["SUCCESS"]
        page.goto(f"{base}/runs", wait_until="networkidle")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        expect(page.get_by_text(f"partition: {COLLECTION}").first).to_be_visible()
        shot("3-run-succeeded")

        # The asset checks of the summary, with their results.
        page.goto(f"{base}/assets/processing_summary?view=checks", wait_until="networkidle")
        dismiss_welcome()
        for check in ("manifest_schema_version", "manifest_additive_compatibility"):
            expect(page.get_by_text(check).first).to_be_visible()
        expect(page.get_by_text("Passed").first).to_be_visible()
        expect(page.get_by_text("Succeeded")).to_have_count(2)
        shot("4-asset-checks")
        browser.close()
    assert (tmp_path / "4-asset-checks.png").stat().st_size > 10_000
