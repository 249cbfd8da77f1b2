"""Vectra on more than one process: Dagster on PostgreSQL, steps on a Dask cluster (see CONTEXT.md)."""
