"""The typed daily assets. game_tick, player_action, server_state and complete_game come from one
multi-asset: a date's raw JSON is parsed once (derive/stage.py) and serves all four; any subset can
run. games is downstream of them. A UI range backfill is one run (single_run policy) looping over
the run's partition keys."""

import dagster as dg

from vectra_pipeline.defs.landing.assets import DAILY
from vectra_pipeline.defs.landing.resources import VectraData
from vectra_pipeline.derive.run import derive_table
from vectra_pipeline.derive.schema_manifest import ensure_manifest
from vectra_pipeline.duck import connect

# A date's derivation also reads the previous date's last minutes of raw (keys unique across midnight),
# and games reads the typed tables of D-1, D and D+1.
RAW_DEPS = [dg.AssetDep("ws_event", partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)),
            dg.AssetKey("legacy_recordings")]
NEIGHBOURS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=1, allow_nonexistent_upstream_partitions=True)
RAW_TABLES = ("game_tick", "player_action", "server_state", "complete_game")
DESCRIPTIONS = {
    "game_tick": "One row per distinct tick state (live gameStateUpdate + legacy ticks), key (game_id, tick, "
                 "cooldown_timer, rugged).",
    "player_action": "Trades (key: trade id), sidebets and the client's own sent orders.",
    "server_state": "Distinct player states from playerUpdate, gameStatePlayerUpdate and leaderboard entries.",
    "complete_game": "One row per finished game from gameHistory, full price series, seed_verified flag.",
    "games": "One row per game: first/last seen, ticks, peak, rug tick and price, trade count, sources.",
}


def _result(table: str, results: list) -> dg.MaterializeResult:
    totals = {k: sum(getattr(r, k) for r in results)
              for k in ("rows_in", "rows_out", "duplicates_dropped", "model_failures")}
    shown = next((r for r in reversed(results) if r.preview), results[-1])
    per_date = "\n".join(["| date | rows in | rows out | duplicates | model failures |", "|---|---|---|---|---|"]
                         + [f"| {r.date} | {r.rows_in} | {r.rows_out} | {r.duplicates_dropped} | {r.model_failures} |"
                            for r in results if r.rows_in or r.rows_out][:60])
    return dg.MaterializeResult(asset_key=table, metadata={
        **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
        "dates": dg.MetadataValue.int(len(results)),
        "per_date": dg.MetadataValue.md(per_date),
        "preview": dg.MetadataValue.md(f"**{shown.date}**\n\n" + shown.preview_markdown()),
        "seconds": dg.MetadataValue.float(round(sum(r.seconds for r in results), 3)),
    })


def derive(context: dg.AssetExecutionContext, data: VectraData, tables: list[str]) -> dict[str, list]:

    paths = data.paths()
    ensure_manifest(paths)
    out: dict[str, list] = {t: [] for t in tables}
    for date in context.partition_keys:
        con = connect()  # one connection per date: its staged parse serves every table of that date
        try:
            for table in tables:
                r = derive_table(paths, table, date, con)
                context.log.info("%s %s: %s", table, date, r.metadata())
                out[table].append(r)
        finally:
            con.close()
    return out


@dg.multi_asset(
    name="typed_from_raw",
    specs=[dg.AssetSpec(t, group_name="typed", deps=RAW_DEPS, kinds={"parquet", "duckdb"}, description=DESCRIPTIONS[t])
           for t in RAW_TABLES],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def typed_from_raw(context: dg.AssetExecutionContext, vectra_data: VectraData):
    selected = [t for t in RAW_TABLES if dg.AssetKey(t) in context.selected_asset_keys]
    for table, results in derive(context, vectra_data, selected).items():
        yield _result(table, results)


@dg.asset(
    name="games",
    group_name="typed",
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(t, partition_mapping=NEIGHBOURS) for t in ("game_tick", "player_action", "complete_game")],
    kinds={"parquet", "duckdb"},
    description=DESCRIPTIONS["games"],
)
def games(context: dg.AssetExecutionContext, vectra_data: VectraData) -> dg.MaterializeResult:
    return _result("games", derive(context, vectra_data, ["games"])["games"])
