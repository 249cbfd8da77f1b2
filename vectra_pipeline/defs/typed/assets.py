"""The typed daily assets: game_tick, player_action, server_state, complete_game from the raw
ws_event partitions, and games from those. One run backfills a whole range (single_run policy):
each asset loops over the run's partition keys."""


import dagster as dg

from vectra_pipeline.defs.landing.assets import DAILY
from vectra_pipeline.defs.landing.resources import VectraData

RAW_DEPS = [dg.AssetKey("ws_event"), dg.AssetKey("legacy_recordings")]
DESCRIPTIONS = {
    "game_tick": "One row per distinct tick state (live gameStateUpdate + legacy ticks), key (game_id, tick, "
                 "cooldown_timer, rugged).",
    "player_action": "Trades (key: trade id), sidebets and the client's own sent orders.",
    "server_state": "Distinct player states from playerUpdate, gameStatePlayerUpdate and leaderboard entries.",
    "complete_game": "One row per finished game from gameHistory, full price series, seed_verified flag.",
    "games": "One row per game: first/last seen, ticks, peak, rug tick and price, trade count, sources.",
}


def materialize_dates(context: dg.AssetExecutionContext, data: VectraData, table: str) -> dg.MaterializeResult:
    from vectra_pipeline.derive.common import connect
    from vectra_pipeline.derive.run import derive_table
    from vectra_pipeline.schema_manifest import ensure_manifest

    paths = data.paths()
    ensure_manifest(paths)
    con = connect()
    results = []
    try:
        for date in context.partition_keys:
            r = derive_table(paths, table, date, con)
            context.log.info("%s %s: %s", table, date, r.metadata())
            results.append(r)
    finally:
        con.close()
    totals = {k: sum(getattr(r, k) for r in results)
              for k in ("rows_in", "rows_out", "duplicates_dropped", "model_failures")}
    shown = next((r for r in reversed(results) if r.preview), results[-1])
    per_date = "\n".join(["| date | rows in | rows out | duplicates | model failures |", "|---|---|---|---|---|"]
                         + [f"| {r.date} | {r.rows_in} | {r.rows_out} | {r.duplicates_dropped} | {r.model_failures} |"
                            for r in results if r.rows_in or r.rows_out][:60])
    return dg.MaterializeResult(metadata={
        **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
        "dates": dg.MetadataValue.int(len(results)),
        "per_date": dg.MetadataValue.md(per_date),
        "preview": dg.MetadataValue.md(f"**{shown.date}**\n\n" + shown.preview_markdown()),
        "seconds": dg.MetadataValue.float(round(sum(r.seconds for r in results), 3)),
    })


def typed_asset(table: str, deps: list) -> dg.AssetsDefinition:
    @dg.asset(
        name=table,
        group_name="typed",
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=deps,
        kinds={"parquet", "duckdb"},
        description=DESCRIPTIONS[table],
    )
    def _asset(context: dg.AssetExecutionContext, vectra_data: VectraData) -> dg.MaterializeResult:
        return materialize_dates(context, vectra_data, table)

    return _asset


game_tick = typed_asset("game_tick", RAW_DEPS)
player_action = typed_asset("player_action", RAW_DEPS)
server_state = typed_asset("server_state", RAW_DEPS)
complete_game = typed_asset("complete_game", RAW_DEPS)
games = typed_asset("games", [dg.AssetKey("game_tick"), dg.AssetKey("player_action"), dg.AssetKey("complete_game")])
