"""The ``dagster.yaml`` of a Dagster instance on PostgreSQL: run, event-log and schedule
storage in one database, runs queued for the daemon (at most one per collection at a time,
across every host), the ``gpu`` pool counted per step, and run monitoring.

Credentials are environment variable references (``{env: NAME}``), resolved by each process
that opens the instance (webserver, daemon, run workers, Celery workers): a password is never
written into the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from pydantic import BaseModel, Field

# SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres installs psycopg2.
SCHEME = "postgresql+psycopg2"
SCHEMES = ("postgres", "postgresql", "postgresql+psycopg2")
DEFAULT_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"  # the name the official Helm chart uses too
HEADER = ("# Written by `embed-collections instance`: a Dagster instance on PostgreSQL.\n"
          "# Every process that opens it needs DAGSTER_HOME and the variables named by `env:` below.\n")


class InstanceConfigError(ValueError):
    """The URL or the options cannot make a safe instance config."""


class PostgresTarget(BaseModel):
    hostname: str = Field(min_length=1)
    port: int = Field(default=5432, gt=0, lt=65536)
    username: str = Field(min_length=1)
    db_name: str = Field(min_length=1)
    params: dict[str, str] = Field(default_factory=dict, description="libpq options, e.g. sslmode.")


def parse_postgres_url(url: str) -> PostgresTarget:
    """``postgresql://user@host:port/db?sslmode=require``; a password in the URL is refused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise InstanceConfigError(f"not a PostgreSQL URL (scheme {parts.scheme or 'missing'!r}); "
                                  "use postgresql://user@host:port/database")
    if parts.password is not None:
        raise InstanceConfigError("the URL carries a password; leave it out and name the environment variable "
                                  f"that holds it with --password-env (default {DEFAULT_PASSWORD_ENV}), so it is "
                                  "never written into dagster.yaml")
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise InstanceConfigError(f"bad port in the URL: {exc}") from None
    if not parts.hostname or not parts.username or not parts.path.strip("/"):
        raise InstanceConfigError("the URL needs a user, a host and a database: postgresql://user@host:port/database")
    return PostgresTarget(hostname=parts.hostname, port=port, username=unquote(parts.username),
                          db_name=unquote(parts.path.strip("/")), params=dict(parse_qsl(parts.query)))


def postgres_instance_config(target: PostgresTarget, password_env: str | None = DEFAULT_PASSWORD_ENV,
                             max_concurrent_runs: int = 8) -> dict[str, Any]:
    db: dict[str, Any] = {"hostname": target.hostname, "port": target.port, "username": target.username,
                          "db_name": target.db_name, "scheme": SCHEME}
    if password_env:
        db["password"] = {"env": password_env}
    if target.params:
        db["params"] = target.params
    return {
        "storage": {"postgres": {"postgres_db": db}},
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator",
                            "config": {"dequeue_interval_seconds": 2}},
        "run_launcher": {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"},
        "concurrency": {
            "runs": {"max_concurrent_runs": max_concurrent_runs, "tag_concurrency_limits": [
                {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]},
            "pools": {"granularity": "op"},
        },
        # A run that dies holding gpu slots (a lost worker) gets them freed once it is marked ended.
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 30, "free_slots_after_run_end_seconds": 300},
        "telemetry": {"enabled": False},
    }


def render(config: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(config, sort_keys=False)


def write_instance_config(home: Path, text: str, force: bool = False) -> Path:
    """Write ``home/dagster.yaml``; an existing different file is kept unless ``force``."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    if path.exists() and path.read_text("utf-8") != text and not force:
        raise InstanceConfigError(f"{path} exists with other settings; pass --force to replace it")
    path.write_text(text, "utf-8")
    return path
