"""The typed daily assets. game_tick, player_action, server_state and complete_game come from one
multi-asset: a date's raw JSON is parsed once (derive/stage.py) and serves all four; any subset can
run. games is downstream of them. A UI range backfill is one run (single_run policy) looping over
the run's partition keys."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from vectra_capture.store.lease import Lease, derivation_writer
from vectra_pipeline.defs.landing.assets import DAILY
from vectra_pipeline.defs.landing.resources import DataRootResource
from vectra_pipeline.defs.table_metadata import column_schema, markdown_rows, table_metadata
from vectra_pipeline.derive.run import DeriveResult, derive_table
from vectra_pipeline.derive.schema_manifest import ensure_manifest
from vectra_pipeline.derive.schemas import TYPED_SCHEMAS

# A date's derivation also reads the previous date's last minutes of raw (keys unique across midnight),
# and games reads the typed tables of D-1, D and D+1.
RAW_DEPS = [dg.AssetDep("ws_event", partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)),
            dg.AssetKey("legacy_recordings")]
NEIGHBOURS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=1, allow_nonexistent_upstream_partitions=True)
RAW_TABLES = ("game_tick", "player_action", "server_state", "complete_game")
DESCRIPTIONS = {
    "game_tick": "One row per distinct tick state of a game (live gameStateUpdate and legacy ticks); key (game_id, "
                 "tick, cooldown_timer, rugged). Cooldown broadcasts have tick and price NULL.",
    "player_action": "One row per player action: a trade (key: trade id), a side bet event, or an order this "
                     "client sent.",
    "server_state": "One row per distinct position state of a player as the server stated it (playerUpdate, "
                    "gameStatePlayerUpdate, leaderboard entries); key (state_source, player_id, game_id, state_key).",
    "complete_game": "One row per finished game from gameHistory: full price series, seeds, seed_verified flag.",
    "games": "One row per game: first/last seen, ticks, peak, rug tick and price, trade count, sources.",
}
ROW_COUNT_NOTE = ("dagster/row_count: rows written by this materialization (the partition's rows; the sum over "
                  "the dates of a range backfill).")


def materialize_result(table: str, results: list[DeriveResult]) -> dg.MaterializeResult:
    rows = sum(r.rows_out for r in results)
    shown = next((r for r in reversed(results) if r.preview), results[-1])
    per_date = "\n".join(["| date | rows in | rows out | duplicates | model failures |", "|---|---|---|---|---|"]
                         + [f"| {r.date} | {r.rows_in} | {r.rows_out} | {r.duplicates_dropped} | {r.model_failures} |"
                            for r in results if r.rows_in or r.rows_out][:60])
    metadata = {
        **table_metadata(TYPED_SCHEMAS[table], rows, f"**{shown.date}**\n\n" + markdown_rows(shown.preview)),
        # what the row count does not say: how many rows came in, and why the others are not rows
        **{k: dg.MetadataValue.int(sum(getattr(r, k) for r in results))
           for k in ("rows_in", "duplicates_dropped", "model_failures")},
        "dates": dg.MetadataValue.int(len(results)),
        "per_date": dg.MetadataValue.md(per_date),
        "seconds": dg.MetadataValue.float(round(sum(r.seconds for r in results), 3)),
    }
    if len(results) == 1:
        metadata["dagster/partition_row_count"] = dg.MetadataValue.int(rows)
    return dg.MaterializeResult(asset_key=table, metadata=metadata)


def derive_partitions(context: dg.AssetExecutionContext, data_root: DataRootResource, duckdb: DuckDBResource,
                      tables: list[str]) -> dict[str, list[DeriveResult]]:
    paths = data_root.paths()
    out: dict[str, list[DeriveResult]] = {t: [] for t in tables}
    ensure_manifest(paths)
    for date in context.partition_keys:
        # one connection per date: its staged parse serves every table of that date; on an object
        # root one host at a time derives a date
        with Lease(paths, derivation_writer(date)), duckdb.get_connection() as con:
            for table in tables:
                r = derive_table(con, paths, table, date)
                context.log.info("%s %s: %s", table, date, r.metadata())
                out[table].append(r)
    return out


def _raw_spec(table: str) -> dg.AssetSpec:
    return dg.AssetSpec(table, group_name="typed", deps=RAW_DEPS, kinds={"parquet", "duckdb"},
                        description=f"{DESCRIPTIONS[table]}\n\n{ROW_COUNT_NOTE}",
                        metadata={"dagster/column_schema": column_schema(TYPED_SCHEMAS[table])})


@dg.multi_asset(
    name="typed_from_raw",
    specs=[_raw_spec(t) for t in RAW_TABLES],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def typed_from_raw(context: dg.AssetExecutionContext, data_root: DataRootResource, duckdb: DuckDBResource):
    selected = [t for t in RAW_TABLES if dg.AssetKey(t) in context.selected_asset_keys]
    for table, results in derive_partitions(context, data_root, duckdb, selected).items():
        yield materialize_result(table, results)


@dg.asset(
    name="games",
    group_name="typed",
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(t, partition_mapping=NEIGHBOURS) for t in ("game_tick", "player_action", "complete_game")],
    kinds={"parquet", "duckdb"},
    description=f"{DESCRIPTIONS['games']}\n\n{ROW_COUNT_NOTE}",
    metadata={"dagster/column_schema": column_schema(TYPED_SCHEMAS["games"])},
)
def games(context: dg.AssetExecutionContext, data_root: DataRootResource, duckdb: DuckDBResource
          ) -> dg.MaterializeResult:
    return materialize_result("games", derive_partitions(context, data_root, duckdb, ["games"])["games"])
