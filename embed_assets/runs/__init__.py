"""Running the asset graph: the Dagster instance, partition registration and execution,
shared by the command line, the benchmark and the tests."""
