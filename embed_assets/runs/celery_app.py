"""The Celery app of the workers that run steps for the Celery executor:

    celery -A embed_assets.runs.celery_app worker -Q gpu,dagster -c 1 -n gpu1@%h

``-Q`` names the queues a worker takes: ``gpu`` for GPU steps (the dense and sparse shards),
``dagster`` for every other step. The broker and result backend are the settings'
(``EMBED_ASSETS_CELERY_BROKER``, ``EMBED_ASSETS_CELERY_BACKEND``) — the executor submits
to the same. A worker needs the code location installed, ``DAGSTER_HOME`` (the instance
config) and the variables it references, and the same data root as every other process.
Its processes live across tasks, so each model loads once per worker process.
"""

from dagster_celery.config import DEFAULT_CONFIG
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from embed_assets.core.settings import get_settings

_settings = get_settings()
app = make_app({"broker": _settings.celery_broker, "backend": _settings.celery_backend})
app.conf.update(DEFAULT_CONFIG)  # one task at a time per process; dagster is the default queue
execute_plan = create_task(app)
