"""Watch the landing zone (file names, sizes, mtimes per date: the cursor) and request the typed
partitions whose raw data changed, older dates included. Neighbouring dates follow: games of D-1
aggregate D's ticks; every typed table of D+1 looks back into D's last minutes. A run key names the
raw digests of every date its partition reads (D-1, D, D+1), so each change of any of them re-runs it;
the changed dates' runs are requested before their neighbours'."""


import hashlib
import json
from datetime import UTC, datetime

import dagster as dg

from vectra_pipeline.defs.landing.assets import DAILY
from vectra_pipeline.defs.landing.resources import VectraData
from vectra_pipeline.derive.common import shift

RAW = ("ws_event", "system_event")
FIRST_DATE = "2025-10-29"
ALL_TYPED = ["game_tick", "player_action", "server_state", "complete_game", "games"]


def snapshot(paths) -> dict[str, dict[str, list]]:
    """doc_type -> date -> [digest, files, bytes] of its Parquet files."""
    out: dict[str, dict[str, list]] = {}
    for doc_type in RAW:
        for part in sorted(paths.doc_type_dir(doc_type).glob("date=*")):
            stats = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in part.glob("*.parquet"))
            if stats:
                digest = hashlib.sha1(json.dumps(stats).encode()).hexdigest()[:16]
                out.setdefault(doc_type, {})[part.name.split("=", 1)[1]] = [digest, len(stats), sum(s[1] for s in stats)]
    return out


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


def run_key(date: str, assets: set[str], digests: dict[str, list]) -> str:
    """The partition and the raw digests of every date it reads (D-1, D, D+1)."""
    seen = ".".join(digests.get(shift(date, k), ["-"])[0] for k in (-1, 0, 1))
    return f"{date}:{seen}:{','.join(sorted(assets))}"


@dg.sensor(
    name="landing_zone_sensor",
    asset_selection=dg.AssetSelection.assets(*ALL_TYPED),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed raw Parquet -> re-derive the typed partitions of those dates.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, vectra_data: VectraData) -> dg.SensorResult:
    paths = vectra_data.paths()
    before = json.loads(context.cursor) if context.cursor else {}
    now = snapshot(paths)
    events, changed = [], []
    for doc_type, dates in now.items():
        for date, (digest, n_files, n_bytes) in sorted(dates.items()):
            if before.get(doc_type, {}).get(date, [None])[0] == digest:
                continue
            if DAILY.start.strftime("%Y-%m-%d") <= date:
                events.append(dg.AssetMaterialization(
                    asset_key=doc_type, partition=date,
                    metadata={"files": n_files, "bytes": n_bytes, "digest": digest}))
            if doc_type == "ws_event":
                changed.append(date)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    events = [e for e in events if e.partition <= today]
    requests = [
        dg.RunRequest(run_key=run_key(date, assets, now.get("ws_event", {})), partition_key=date,
                      asset_selection=[dg.AssetKey(a) for a in sorted(assets)])
        for date, assets in sorted(plan(changed, set(now.get("ws_event", {})), today).items(),
                                   key=lambda item: (item[0] not in changed, item[0]))
    ]
    if requests:
        context.log.info("raw changed on %s: %d run requests", changed, len(requests))
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=json.dumps(now, sort_keys=True))
