"""The landing zone as external assets: written by the capture daemon (and the legacy import),
observed by the landing sensor, read by the typed assets."""

import dagster as dg

DAILY = dg.DailyPartitionsDefinition(start_date="2025-10-29", end_offset=1, timezone="UTC")

ws_event = dg.AssetSpec(
    "ws_event",
    group_name="landing",
    partitions_def=DAILY,
    kinds={"parquet"},
    description="Raw Socket.IO event frames, verbatim, events_parquet/doc_type=ws_event/date=<UTC date>/ "
                "(capture daemon: one file per session roll; legacy import: one file per source file).",
)
system_event = dg.AssetSpec(
    "system_event",
    group_name="landing",
    partitions_def=DAILY,
    kinds={"parquet"},
    description="The capture daemon's own lifecycle rows (connect, disconnect, watchdog...), typed when landed.",
)
