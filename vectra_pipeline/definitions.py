"""The Dagster code location. Everything under defs/ is discovered; nothing heavy is imported here.

Runs execute in one process (in_process_executor): a typed partition is ~9 steps (the derivation,
games, their checks) of well under a second each, and the default multiprocess executor starts a
Python per step that re-imports this code location (seconds each on two cores; bench/dagster_run.py
measures both). In one process the steps also share the embedder and its loaded model."""

from pathlib import Path

import dagster as dg


def code_location(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """Everything under defs/, run with `executor` (bench/dagster_run.py builds the multiprocess twin)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs"),
        dg.Definitions(executor=executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return code_location(dg.in_process_executor)
