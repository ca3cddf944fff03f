"""Where steps run. The GPU steps (the dense and sparse shards, in the ``gpu`` concurrency pool)
go to the Celery queue ``gpu`` and get the Kubernetes GPU pod config; every other step goes to
the executor's default queue."""

GPU_POOL = "gpu"
GPU_QUEUE = "gpu"
DEFAULT_QUEUE = "dagster"  # dagster-celery's default queue
GPU_OPS = ("dense_shard", "sparse_shard")
CELERY_QUEUE_TAG = "dagster-celery/queue"
GPU_STEP_TAGS = {CELERY_QUEUE_TAG: GPU_QUEUE}
