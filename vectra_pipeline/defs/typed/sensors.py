"""The landing zone sensor. Every minute it lists the raw partitions (a digest of file names, sizes
and mtimes per doc_type and date: the cursor) and, for the partitions that changed since its last
report:
- reports them as runless events on `ws_event` / `system_event` (files, rows, bytes, last ts), so the
  UI shows which days hold raw data and which typed partitions are stale against it;
- requests the typed partitions whose raw data changed, older dates included. Neighbouring dates
  follow: games of D-1 aggregate D's ticks; every typed table of D+1 looks back into D's last
  minutes. A run key names the raw digests of every date its partition reads (D-1, D, D+1), so each
  change of any of them re-runs it; the changed dates' runs are requested before their neighbours'.
It also evaluates the `raw_freshness` check and reports it when its verdict changes (and hourly)."""

import json
import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from vectra_pipeline.defs.landing.assets import DAILY
from vectra_pipeline.defs.landing.checks import freshness_evaluation, freshness_outcome
from vectra_pipeline.defs.landing.raw_partitions import digests, partition_events, summarize
from vectra_pipeline.defs.landing.resources import DataRootResource
from vectra_pipeline.derive.common import shift

FIRST_DATE = DAILY.start.strftime("%Y-%m-%d")
ALL_TYPED = ["game_tick", "player_action", "server_state", "complete_game", "games"]
CURSOR_VERSION = 2
# Partitions reported per tick, newest first: the first tick on a long history reads the footers of
# every raw file, which must not hold the sensor past its timeout; the rest follow on the next ticks.
MAX_REPORTS_PER_TICK = 60
FRESHNESS_HEARTBEAT_SECONDS = 3600  # an unchanged freshness verdict is re-reported this often


def plan(changed: list[str], raw_dates: set[str], today: str) -> dict[str, set[str]]:
    """date -> typed assets to re-derive, for the changed raw dates."""
    wanted: dict[str, set[str]] = {}
    for d in changed:
        wanted.setdefault(d, set()).update(ALL_TYPED)
        if shift(d, -1) in raw_dates:
            wanted.setdefault(shift(d, -1), set()).add("games")
        if shift(d, 1) in raw_dates:
            wanted.setdefault(shift(d, 1), set()).update(ALL_TYPED)
    return {d: a for d, a in wanted.items() if FIRST_DATE <= d <= today}


def run_key(date: str, assets: set[str], ws_digests: dict[str, str]) -> str:
    """The partition and the raw digests of every date it reads (D-1, D, D+1)."""
    seen = ".".join(ws_digests.get(shift(date, k), "-") for k in (-1, 0, 1))
    return f"{date}:{seen}:{','.join(sorted(assets))}"


def read_cursor(cursor: str | None) -> dict[str, Any]:
    """{"v", "raw": {doc_type: {date: digest}}, "freshness": {"passed", "at"}}. A cursor from before
    version 2 (entries [digest, files, bytes] with another digest) counts every partition as not
    reported yet, but keeps its file count and bytes ("before_v2", until each date is reported) so an
    unchanged date is reported without being re-derived."""
    data = json.loads(cursor) if cursor else {}
    if data.get("v") == CURSOR_VERSION:
        return data
    old = {dt: {d: e[1:] for d, e in dates.items()} for dt, dates in data.items() if isinstance(dates, dict)}
    return {"v": CURSOR_VERSION, "raw": {}, "freshness": None, "before_v2": old}


@dg.sensor(
    name="landing_zone_sensor",
    asset_selection=dg.AssetSelection.assets(*ALL_TYPED),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports new or changed raw partitions (ws_event, system_event) as runless events and "
                "re-derives the typed partitions of those dates; evaluates the raw_freshness check.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    paths = data_root.paths()
    state = read_cursor(context.cursor)
    before_v2: dict[str, dict[str, list]] = state.pop("before_v2", {})
    now = digests(paths)
    # partitions gone from the disk are forgotten (a later one at that date is new)
    reported = state["raw"] = {dt: {d: v for d, v in dates.items() if d in now.get(dt, {})}
                               for dt, dates in state["raw"].items()}
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    todo = sorted(((date, doc_type) for doc_type, dates in now.items() for date, (digest, _) in dates.items()
                   if reported.get(doc_type, {}).get(date) != digest), reverse=True)
    events: list = []
    changed: list[str] = []
    for date, doc_type in todo[:MAX_REPORTS_PER_TICK]:
        digest, files = now[doc_type][date]
        try:
            summary = summarize(files)
        except (OSError, pa.ArrowException) as exc:  # replaced while read: the next tick sees it settled
            context.log.warning("%s %s could not be read (%s); retried next tick", doc_type, date, exc)
            continue
        if FIRST_DATE <= date <= today:  # a partition outside the definition cannot hold events
            events += partition_events(doc_type, date, digest, summary)
        reported.setdefault(doc_type, {})[date] = digest
        old = before_v2.get(doc_type, {}).pop(date, None)
        if doc_type == "ws_event" and old != [summary.files, summary.bytes]:
            changed.append(date)
    ws_digests = {d: digest for d, (digest, _) in now.get("ws_event", {}).items()}
    requests = [
        dg.RunRequest(run_key=run_key(date, assets, ws_digests), partition_key=date,
                      asset_selection=[dg.AssetKey(a) for a in sorted(assets)])
        for date, assets in sorted(plan(changed, set(ws_digests), today).items(),
                                   key=lambda item: (item[0] not in changed, item[0]))
    ]
    if requests:
        context.log.info("raw changed on %s: %d run requests", sorted(changed), len(requests))
    if len(todo) > MAX_REPORTS_PER_TICK:
        context.log.info("%d more changed raw partitions are reported on the next ticks",
                         len(todo) - MAX_REPORTS_PER_TICK)
    if any(before_v2.values()):
        state["before_v2"] = {dt: dates for dt, dates in before_v2.items() if dates}
    events += freshness_events(data_root, state)
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=json.dumps(state, sort_keys=True))


def freshness_events(data_root: DataRootResource, state: dict[str, Any]) -> list[dg.AssetCheckEvaluation]:
    """The raw_freshness evaluation when its verdict changed since the last report, or hourly."""
    now = time.time()
    outcome = freshness_outcome(data_root, now)
    last = state.get("freshness") or {}
    if last.get("passed") == outcome.passed and now - last.get("at", 0) < FRESHNESS_HEARTBEAT_SECONDS:
        return []
    state["freshness"] = {"passed": outcome.passed, "at": now}
    return [freshness_evaluation(outcome)]
