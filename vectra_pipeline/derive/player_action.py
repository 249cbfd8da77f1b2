"""player_action: trades (`standard/newTrade`, key: trade id), sidebets (`newSideBet`, `currentSidebet`,
`currentSidebetResult`, key: id + type) and the client's own sent orders (`buyOrder`, `sellOrder`,
`requestSidebet`, key: session_id:seq). Rows failing their pydantic model are counted, not typed."""

from __future__ import annotations

import duckdb

from vectra_pipeline.derive.common import dec, envelope
from vectra_pipeline.derive.exact import exact_decimals
from vectra_pipeline.derive.schemas import DEC_SQL
from vectra_pipeline.derive.stage import SMALL_ROWS
from vectra_pipeline.derive.validation import validate_events

TRADES = ("standard/newTrade",)
SIDEBETS = ("newSideBet", "currentSidebet", "currentSidebetResult")
ORDERS = ("buyOrder", "sellOrder", "requestSidebet")
EVENTS = TRADES + SIDEBETS + ORDERS



def prepare(con: duckdb.DuckDBPyConnection, raw: str) -> tuple[dict, str]:  # noqa: ARG001
    """Needs the `stage` table (stage.build_stage), which holds these events' fields and raw_json."""
    small = SMALL_ROWS
    validate_events(con, small, EVENTS, "pa_bad", f"(event_name NOT IN {ORDERS} OR direction = 'sent')")
    (failures,) = con.execute("SELECT count(*) FROM pa_bad b SEMI JOIN (SELECT session_id, seq FROM stage "
                              "WHERE NOT prev) s ON s.session_id = b.session_id AND s.seq = b.seq").fetchall()[0]
    names = ", ".join(f"'{e}'" for e in EVENTS)
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE pa_c AS
    SELECT r.ts, r.source, r.session_id, r.seq, r.direction, r.event_name, r.raw_json, r.prev, r.v,
           coalesce(v[2], r.game_id) AS game_id, coalesce(v[3], r.player_id) AS player_id,
           coalesce(v[4], r.username) AS username,
           CASE WHEN r.event_name IN {TRADES + ('',)} THEN 'trade'
                WHEN r.event_name IN {SIDEBETS} THEN 'sidebet' ELSE 'order' END AS action_kind,
           CASE WHEN r.event_name IN {TRADES + ('',)} THEN v[1]
                WHEN r.event_name IN {SIDEBETS} THEN coalesce(v[1], md5(r.raw_json)) || ':' || coalesce(v[5], '')
                ELSE r.session_id || ':' || r.seq END AS action_id,
           CASE WHEN r.event_name IN {ORDERS} THEN r.event_name ELSE v[5] END AS action_type,
           TRY_CAST(v[6] AS BIGINT) AS tick, {dec('v[7]', DEC_SQL)} AS price,
           {dec('coalesce(v[8], v[18])', DEC_SQL)} AS amount, {dec('v[9]', DEC_SQL)} AS qty, v[10] AS coin,
           {dec('v[11]', DEC_SQL)} AS leverage, {dec('v[12]', DEC_SQL)} AS bonus_portion,
           {dec('v[13]', DEC_SQL)} AS real_portion, {dec('v[14]', DEC_SQL)} AS x_payout,
           {dec('v[15]', DEC_SQL)} AS payout, {dec('v[16]', DEC_SQL)} AS profit, TRY_CAST(v[17] AS BIGINT) AS level
    FROM (SELECT * FROM {small} WHERE event_name IN ({names}) AND (event_name NOT IN {ORDERS} OR direction = 'sent')) r
    ANTI JOIN pa_bad b ON b.session_id = r.session_id AND b.seq = r.seq
    """)
    # numbers DuckDB read as doubles (or could not cast) re-read exactly; a value too big is a failure
    inexact, reasons = exact_decimals(con, "pa_c", {
        "price": ("v[7]", ["price"]), "amount": ("coalesce(v[8], v[18])", ["amount", "betAmount"]),
        "qty": ("v[9]", ["qty"]), "leverage": ("v[11]", ["leverage"]), "bonus_portion": ("v[12]", ["bonusPortion"]),
        "real_portion": ("v[13]", ["realPortion"]), "x_payout": ("v[14]", ["xPayout"]),
        "payout": ("v[15]", ["payout"]), "profit": ("v[16]", ["profit"])})
    failures += inexact
    (rows_in,) = con.execute(
        f"SELECT count(*) FROM stage WHERE event_name IN ({names}) "
        f"AND (event_name NOT IN {ORDERS} OR direction = 'sent') AND NOT prev").fetchall()[0]
    con.execute("""
    CREATE OR REPLACE TEMP TABLE pa_w AS SELECT * FROM pa_c
    QUALIFY row_number() OVER (PARTITION BY action_kind, action_id ORDER BY ts, session_id, seq) = 1
    """)
    con.execute("DELETE FROM pa_w WHERE prev")  # keys first seen in the previous date's tail stay there
    (rows_out,) = con.execute("SELECT count(*) FROM pa_w").fetchall()[0]
    stats = {"rows_in": rows_in, "model_failures": failures, "rows_out": rows_out,
             "duplicates_dropped": rows_in - failures - rows_out, "decimal_failures": inexact}
    if reasons:
        stats["decimal_failure_reasons"] = "; ".join(reasons)
    final = f"""
    SELECT {envelope('player_action', 'w')}, w.raw_json, w.event_name, w.action_kind, w.action_id, w.action_type,
           w.tick, w.price, w.amount, w.qty, w.coin, w.leverage, w.bonus_portion, w.real_portion, w.x_payout,
           w.payout, w.profit, w.level
    FROM pa_w w
    ORDER BY w.ts, w.session_id, w.seq
    """
    return stats, final
