"""The Dagster code location. Everything under defs/ is discovered; nothing heavy is imported here.

Runs execute in one process (in_process_executor): a typed partition is ~9 steps (the derivation,
games, their checks) of well under a second each, and the default multiprocess executor starts a
Python per step that re-imports this code location (seconds each on two cores; bench/dagster_run.py
measures both). In one process the steps also share the embedder and its loaded model.

The definitions are built once per process: Dagster calls `defs()` again for every reconstruction
of the repository (5 times in one `dagster asset materialize` run, ~1-2 s each on two cores), and
the defs folder does not change while a process runs (a reload starts a new code server)."""

import functools
from pathlib import Path

import dagster as dg


@functools.cache
def code_location(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """Everything under defs/, run with `executor` (bench/dagster_run.py builds the multiprocess twin)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs"),
        dg.Definitions(executor=executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return code_location(dg.in_process_executor)
