"""A real local cluster (PostgreSQL, Redis, Celery workers, the Dagster daemon) started and
stopped by this package: ``make scale-demo``, the scale-out test and the scaling benchmark."""
