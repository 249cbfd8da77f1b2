"""`typed_backfill`: a range of dates re-derived as ONE run with a step PER DATE, so an executor with
workers (the cluster's Dask executor) spreads the dates over them. The assets' own backfills run one
step per asset for the whole range (BackfillPolicy.single_run: the cheap path in one process).

Steps: `backfill_dates` fans the range out; `derive_raw_tables[<date>]` derives the four raw-fed
tables of a date (a date reads only raw, its own and the previous date's last minutes, so dates run
in parallel); once all are done, `derive_games[<date>]` (games of D read the typed tables of D-1, D,
D+1). Each step reports its tables' partitions as materializations, with the assets' metadata."""

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from vectra_capture.store.lease import Lease, derivation_writer
from vectra_pipeline.defs.landing.resources import DataRootResource
from vectra_pipeline.defs.typed.assets import RAW_TABLES, materialize_result
from vectra_pipeline.derive.common import shift
from vectra_pipeline.derive.run import derive_table
from vectra_pipeline.derive.schema_manifest import ensure_manifest

MAX_DATES = 3660  # ten years: a typo in a date must not fan out into millions of steps


class DateRange(dg.Config):
    start: str = Field(description="First date, YYYY-MM-DD (UTC)", pattern=r"^\d{4}-\d{2}-\d{2}$")
    end: str = Field(description="Last date, YYYY-MM-DD (UTC), included", pattern=r"^\d{4}-\d{2}-\d{2}$")


def dates_between(start: str, end: str) -> list[str]:
    if start > end:
        raise dg.Failure(f"the range {start}..{end} is empty (start after end)")
    dates = [start]
    while dates[-1] < end:
        if len(dates) >= MAX_DATES:
            raise dg.Failure(f"{start}..{end} is more than {MAX_DATES} dates")
        dates.append(shift(dates[-1], 1))
    return dates


def fan_out(dates: list[str]):
    for date in dates:
        yield dg.DynamicOutput(date, mapping_key=date.replace("-", "_"))


def derive_and_report(context: dg.OpExecutionContext, data_root: DataRootResource, duckdb: DuckDBResource,
                      tables: tuple[str, ...], date: str):
    paths = data_root.paths()
    # one connection: the date's staged parse serves every table; on an object root one host at a
    # time derives a date (workers on other hosts derive other dates)
    with Lease(paths, derivation_writer(date)), duckdb.get_connection() as con:
        for table in tables:
            result = derive_table(con, paths, table, date)
            context.log.info("%s %s: %s", table, date, result.metadata())
            yield dg.AssetMaterialization(table, partition=date,
                                          metadata=materialize_result(table, [result]).metadata)


@dg.op(out=dg.DynamicOut(str))
def backfill_dates(config: DateRange, data_root: DataRootResource):
    dates = dates_between(config.start, config.end)
    ensure_manifest(data_root.paths())  # once, before the parallel steps
    yield from fan_out(dates)


@dg.op(out=dg.Out(str))
def derive_raw_tables(context: dg.OpExecutionContext, date: str, data_root: DataRootResource,
                      duckdb: DuckDBResource):
    yield from derive_and_report(context, data_root, duckdb, RAW_TABLES, date)
    yield dg.Output(date)


@dg.op(out=dg.DynamicOut(str))
def all_dates_derived(dates: list[str]):
    yield from fan_out(sorted(dates))


@dg.op(out={})  # reports materializations only
def derive_games(context: dg.OpExecutionContext, date: str, data_root: DataRootResource, duckdb: DuckDBResource):
    yield from derive_and_report(context, data_root, duckdb, ("games",), date)


@dg.job(description="Re-derive the typed tables of a date range, one step per date (parallel on the "
                    "cluster's workers); config: ops.backfill_dates.config.start / end.",
        tags={"vectra/kind": "typed_backfill"})
def typed_backfill():
    derived = backfill_dates().map(derive_raw_tables).collect()
    all_dates_derived(derived).map(derive_games)
