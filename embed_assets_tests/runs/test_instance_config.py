"""The PostgreSQL instance config: what ``embed-collections instance`` writes (credentials as
environment references, never in clear), checked by Dagster's own instance schema; then a
real PostgreSQL: collections materialized on it, the gpu pool limit stored in it, and two
"hosts" (separate storage locks) taking turns on one collection through it."""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from embed_assets.cluster.servers import Postgres
from embed_assets.runs.instance_config import (
    DEFAULT_PASSWORD_ENV,
    InstanceConfigError,
    parse_postgres_url,
    postgres_instance_config,
    render,
)

from ..helpers import REPO, run_cli


def test_a_url_becomes_an_instance_config_with_the_password_by_reference(tmp_path: Path) -> None:
    target = parse_postgres_url("postgresql://embed%40ops@db.internal:6432/dagster?sslmode=require")
    assert (target.username, target.hostname, target.port, target.db_name) == ("embed@ops", "db.internal", 6432,
                                                                                 "dagster")
    config = postgres_instance_config(target, "PG_SECRET")
    db = config["storage"]["postgres"]["postgres_db"]
    assert db["password"] == {"env": "PG_SECRET"} and db["scheme"] == "postgresql+psycopg2"
    assert db["params"] == {"sslmode": "require"}
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert limits == [{"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    (tmp_path / "dagster.yaml").write_text(render(config))
    validated, _ = dagster_instance_config(str(tmp_path))  # Dagster's own schema for dagster.yaml
    assert validated["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert "password" not in postgres_instance_config(target, None)["storage"]["postgres"]["postgres_db"]


@pytest.mark.parametrize("url, message", [
    ("postgresql://u:hunter2@h/db", "carries a password"),
    ("mysql://u@h/db", "not a PostgreSQL URL"),
    ("postgresql://h/db", "needs a user"),
    ("postgresql://u@h:99999/db", "bad port"),
])
def test_unsafe_or_incomplete_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InstanceConfigError, match=message):
        parse_postgres_url(url)


def test_the_instance_command_never_writes_a_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused = run_cli(["instance", "--postgres-url", "postgresql://dagster:hunter2@h/db", "--home", str(home)], home)
    assert refused.returncode == 2 and "carries a password" in refused.stderr and not (home / "dagster.yaml").exists()
    done = run_cli(["instance", "--postgres-url", "postgresql://dagster@h/db", "--home", str(home)], home)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load((home / "dagster.yaml").read_text())
    assert written["storage"]["postgres"]["postgres_db"]["password"] == {"env": DEFAULT_PASSWORD_ENV}
    other = run_cli(["instance", "--postgres-url", "postgresql://dagster@other/db", "--home", str(home)], home)
    assert other.returncode == 2 and "--force" in other.stderr


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    folder = Path(tempfile.mkdtemp(prefix="embed-pg-"))  # pytest's folders are private to root; the server's
    os.chmod(folder, 0o755)                               # account must reach its own
    server = Postgres(folder / "server")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert server.service is not None and not server.service.alive()


@pytest.mark.slow
def test_collections_on_a_postgres_instance_take_turns_across_hosts(postgres: Postgres, tmp_path: Path,
                                                                    data_root: Path) -> None:
    home = tmp_path / "home"
    env = {DEFAULT_PASSWORD_ENV: postgres.password}
    done = run_cli(["instance", "--postgres-url", postgres.url, "--home", str(home), "--gpu-slots", "2"], home, **env)
    assert done.returncode == 0, done.stderr
    # Two "hosts": each its own data root (so its own storage lock), one instance: the instance
    # is what makes the second wait for the first.
    other = tmp_path / "other-host"
    other.mkdir()
    os.symlink(data_root / "collections", other / "collections")
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("EMBED_ASSETS_") or k == "EMBED_ASSETS_MODEL_CACHE"}
    full_env.update({"DAGSTER_HOME": str(home), "HF_HUB_OFFLINE": "1", **env})
    procs = [subprocess.Popen([sys.executable, "-m", "embed_assets.cli", "run", "--data-root", str(root),
                               "--collection", "ops-faq", "--disable-sparse"], env=full_env, cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for root in (data_root, other)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert sum("ops-faq is being materialized by run" in err for _, err in results) == 1
    os.environ[DEFAULT_PASSWORD_ENV] = postgres.password
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 2
        assert instance.get_dynamic_partitions("collections")
