"""The landing zone as external assets: written by the capture daemon (and the legacy import),
reported by the landing sensor (runless events per changed day), read by the typed assets."""

import dagster as dg

from vectra_capture.store.envelope import RAW_SCHEMAS
from vectra_pipeline.defs.table_metadata import column_schema

DAILY = dg.DailyPartitionsDefinition(start_date="2025-10-29", end_offset=1, timezone="UTC")
REPORTED = ("Reported by landing_zone_sensor when a day's files change: files, dagster/row_count, bytes, "
            "last_ts (from the Parquet footers).")

ws_event = dg.AssetSpec(
    "ws_event",
    group_name="landing",
    partitions_def=DAILY,
    kinds={"parquet"},
    description="One row per Socket.IO frame as received (raw JSON verbatim, with the capture envelope), under "
                "events_parquet/doc_type=ws_event/date=<UTC date>/ (capture daemon: one file per spool roll; "
                f"legacy import: one file per source file and date). {REPORTED}",
    metadata={"dagster/column_schema": column_schema(RAW_SCHEMAS["ws_event"])},
)
system_event = dg.AssetSpec(
    "system_event",
    group_name="landing",
    partitions_def=DAILY,
    kinds={"parquet"},
    description="One row per lifecycle event of the capture daemon (session start/end, connect, disconnect, "
                f"watchdog, spool recovery). {REPORTED}",
    metadata={"dagster/column_schema": column_schema(RAW_SCHEMAS["system_event"])},
)
