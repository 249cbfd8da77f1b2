"""The Dagster code location. Everything under defs/ is discovered; nothing heavy is imported here.

Runs execute in one process (in_process_executor): a typed partition is 4 steps (the derivation,
its checks, games, its checks) of a second or so each, and the default multiprocess executor starts a
Python per step that re-imports this code location (seconds each on two cores; bench/dagster_run.py
measures both). In one process the steps also share the embedder and its loaded model.

The definitions are built once per process: Dagster calls `defs()` again for every reconstruction
of the repository (5 times in one `dagster asset materialize` run, ~1-2 s each on two cores), and
the defs folder does not change while a process runs (a reload starts a new code server).

With VECTRA_EXECUTOR=dask (the cluster, deploy/), steps run as tasks on the Dask scheduler at
$DAGSTER_DASK_ADDRESS instead (vectra_pipeline/cluster/executor.py; decision 0016)."""

import functools
import os
from pathlib import Path

import dagster as dg

EXECUTOR_ENV = "VECTRA_EXECUTOR"  # "dask": the cluster's executor; unset or "in_process": the embedded default


@functools.cache
def code_location(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """Everything under defs/, run with `executor` (bench/dagster_run.py builds the multiprocess twin)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs"),
        dg.Definitions(executor=executor),
    )


def selected_executor() -> dg.ExecutorDefinition:
    choice = os.environ.get(EXECUTOR_ENV, "in_process")
    if choice not in ("in_process", "dask"):
        raise ValueError(f"{EXECUTOR_ENV}={choice!r}: expected 'in_process' or 'dask'")
    if choice == "in_process":
        return dg.in_process_executor
    # imported only for the cluster: dask.distributed costs the embedded code location ~2 s of CPU per load
    from vectra_pipeline.cluster.executor import cluster_executor

    return cluster_executor


@dg.definitions
def defs() -> dg.Definitions:
    return code_location(selected_executor())
