"""Legacy ticks (imported by the legacy helper's code) become game_tick rows next to live ones:
placeholder cooldown records are not tick 0 of play, duplicate (game, tick) records collapse."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
from pipeline_helpers import FIXTURES, pipeline_resources, raw_dates
from test_pipeline_assets import materialize_all

from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.defs.typed.assets import games, typed_from_raw

LEGACY = FIXTURES / "legacy" / "rugs_recordings"


def clean_tick_keys() -> set[tuple]:
    """Keys of the tick records json.loads accepts whole, by the contract's placeholder rule."""
    keys = set()
    for path in LEGACY.glob("*.jsonl"):
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or rec.get("type") != "tick":
                continue
            placeholder = not rec.get("active") and not rec.get("rugged") and (rec.get("cooldown_timer") or 0) > 0
            keys.add((rec["game_id"], None if placeholder else rec["tick"], rec.get("cooldown_timer"),
                      bool(rec.get("rugged"))))
    return keys


def test_legacy_ticks_in_game_tick(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    summary = import_legacy([LEGACY], paths, legacy_root=LEGACY)
    assert summary["records"] > 0
    for result in materialize_all(paths):
        assert result.success
    rows = [r for f in paths.doc_type_dir("game_tick").glob("date=*/*.parquet") for r in pq.read_table(f).to_pylist()]
    keys = {(r["game_id"], r["tick"], r["cooldown_timer"], r["rugged"]) for r in rows}
    assert len(keys) == len(rows)  # duplicate (game, tick) records collapsed
    expected = clean_tick_keys()
    assert expected <= keys  # every cleanly recorded tick state is there (salvaged lines may add more)
    placeholders = [r for r in rows if r["tick"] is None]
    assert placeholders and all(r["price"] is None and r["phase"] in ("presale", "settlement") for r in placeholders)
    assert not any(r["tick"] == 0 and r["cooldown_timer"] and not r["active"] for r in rows)
    assert {r["source"] for r in rows} == {"replay"} and {r["event_name"] for r in rows} == {"legacy.tick"}


def test_range_backfill_is_one_run(tmp_path: Path) -> None:
    """BackfillPolicy.single_run: one run over a partition range loops over every date in it."""
    paths = DataPaths(tmp_path / "data")
    import_legacy([LEGACY], paths, legacy_root=LEGACY)
    dates = raw_dates(paths)
    result = dg.materialize(
        [typed_from_raw, games, dg.AssetSpec("ws_event"), dg.AssetSpec("legacy_recordings")],
        selection=dg.AssetSelection.assets(typed_from_raw, games),
        resources=pipeline_resources(paths),
        tags={"dagster/asset_partition_range_start": dates[0], "dagster/asset_partition_range_end": dates[-1]},
    )
    assert result.success
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "game_tick"]
    assert sorted(m.materialization.partition for m in mats) == sorted(
        d for d in _all_dates(dates[0], dates[-1]))
    written = sorted(p.parent.name.split("=", 1)[1] for p in paths.doc_type_dir("game_tick").glob("date=*/*.parquet"))
    assert written == dates


def _all_dates(start: str, end: str) -> list[str]:
    d, out = date.fromisoformat(start), []
    while d.isoformat() <= end:
        out.append(d.isoformat())
        d += timedelta(days=1)
    return out
