"""player_action: trades (`standard/newTrade`, key: trade id), sidebets (`newSideBet`, `currentSidebet`,
`currentSidebetResult`, key: id + type) and the player's own sent requests (`buyOrder`, `sellOrder`,
`requestSidebet`, direction `sent`, key: session_id:seq). Rows failing their pydantic model are counted,
not typed.

Own requests get an action_type (BUY; SELL for a sellOrder of 100 percent or more, PARTIAL_SELL below;
SIDEBET) next to the wire name in event_name, and the server's ack answering them: the first `__ack__`
after the request with the same ack id on the same socket (and session). An ack arriving after
midnight UTC belongs to the next date and is not paired (ack columns null)."""

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
    SELECT r.ts, r.source, r.session_id, r.seq, r.direction, r.event_name, r.raw_json, r.prev, r.v, r.ack_id,
           r.socket_id,
           coalesce(v[2], r.game_id) AS game_id, coalesce(v[3], r.player_id) AS player_id,
           coalesce(v[4], r.username) AS username,
           CASE WHEN r.event_name IN {TRADES + ('',)} THEN 'trade'
                WHEN r.event_name IN {SIDEBETS} THEN 'sidebet' ELSE 'order' END AS action_kind,
           CASE WHEN r.event_name IN {TRADES + ('',)} THEN v[1]
                WHEN r.event_name IN {SIDEBETS} THEN coalesce(v[1], md5(r.raw_json)) || ':' || coalesce(v[5], '')
                ELSE r.session_id || ':' || r.seq END AS action_id,
           CASE r.event_name WHEN 'buyOrder' THEN 'BUY' WHEN 'requestSidebet' THEN 'SIDEBET'
                WHEN 'sellOrder' THEN CASE WHEN TRY_CAST(v[19] AS {DEC_SQL}) >= 100 THEN 'SELL' ELSE 'PARTIAL_SELL' END
                ELSE v[5] END AS action_type, {dec('v[19]', DEC_SQL)} AS percentage,
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
        "payout": ("v[15]", ["payout"]), "profit": ("v[16]", ["profit"]),
        "percentage": ("v[19]", ["percentage"])})
    failures += inexact
    (rows_in,) = con.execute(
        f"SELECT count(*) FROM stage WHERE event_name IN ({names}) "
        f"AND (event_name NOT IN {ORDERS} OR direction = 'sent') AND NOT prev").fetchall()[0]
    con.execute("""
    CREATE OR REPLACE TEMP TABLE pa_w AS SELECT * FROM pa_c
    QUALIFY row_number() OVER (PARTITION BY action_kind, action_id ORDER BY ts, session_id, seq) = 1
    """)
    con.execute("DELETE FROM pa_w WHERE prev")  # keys first seen in the previous date's tail stay there
    # the first ack after each own request with its ack id, on the same socket of the same session
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE pa_ack AS
    SELECT o.session_id, o.seq, arg_min(struct_pack(ts := a.ts, raw_json := a.raw_json), a.seq) AS ack
    FROM pa_w o JOIN (SELECT * FROM {small} WHERE event_name = '__ack__' AND direction = 'received') a
      ON a.session_id = o.session_id AND a.ack_id = o.ack_id AND a.seq > o.seq
     AND a.socket_id IS NOT DISTINCT FROM o.socket_id
    WHERE o.action_kind = 'order' AND o.ack_id IS NOT NULL
    GROUP BY o.session_id, o.seq
    """)
    (rows_out,) = con.execute("SELECT count(*) FROM pa_w").fetchall()[0]
    stats = {"rows_in": rows_in, "model_failures": failures, "rows_out": rows_out,
             "duplicates_dropped": rows_in - failures - rows_out, "decimal_failures": inexact}
    if reasons:
        stats["decimal_failure_reasons"] = "; ".join(reasons)
    final = f"""
    SELECT {envelope('player_action', 'w')}, w.raw_json, w.event_name, w.action_kind, w.action_id, w.action_type,
           w.tick, w.price, w.amount, w.qty, w.coin, w.leverage, w.bonus_portion, w.real_portion, w.x_payout,
           w.payout, w.profit, w.level, w.percentage, w.ack_id, w.socket_id, a.ack.ts AS ack_ts,
           a.ack.raw_json AS ack_json,
           TRY_CAST(json_extract(a.ack.raw_json, '$[0].success') AS BOOLEAN) AS ack_success
    FROM pa_w w LEFT JOIN pa_ack a ON a.session_id = w.session_id AND a.seq = w.seq
    ORDER BY w.ts, w.session_id, w.seq
    """
    return stats, final
