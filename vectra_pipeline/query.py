"""Query helpers: an in-memory DuckDB connection with one view per doc_type over its Parquet glob
(hive partitioning, union_by_name). A doc_type with no files yet is an empty view of its schema,
so every helper returns an empty result instead of failing; `refresh()` turns such a view into a
Parquet view once files appear (a long-lived process, e.g. the explorer, calls it per request).
`recent()` also sees the frames still in the capture spool."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.store.envelope import RAW_SCHEMAS
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.remote_path import arrow_source
from vectra_pipeline import duck
from vectra_pipeline.derive.schemas import TYPED_SCHEMAS
from vectra_pipeline.service.recent import recent_frames

SCHEMAS: dict[str, pa.Schema] = {**RAW_SCHEMAS, **TYPED_SCHEMAS}


class Query:
    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths
        self.con = duck.connect()
        self._has_files: dict[str, bool] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-create the views whose doc_type went from no files to some (or back, after a prune)."""
        for doc_type, schema in SCHEMAS.items():
            has = any(self.paths.doc_type_dir(doc_type).glob("date=*/*.parquet"))
            if self._has_files.get(doc_type) != has:
                self._view(doc_type, schema, has)
                self._has_files[doc_type] = has

    def _view(self, doc_type: str, schema: pa.Schema, has_files: bool) -> None:
        # Every column of the code's schema is in the view, even when all files predate it (null).
        empty = schema.empty_table().append_column("date", pa.array([], pa.string()))
        self.con.register(f"_{doc_type}_empty", empty)
        if has_files:
            glob = self.paths.glob(doc_type).replace("'", "''")
            self.con.execute(f"CREATE OR REPLACE VIEW {doc_type} AS SELECT * FROM "
                             f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true) "
                             f"UNION ALL BY NAME SELECT * EXCLUDE (date) FROM _{doc_type}_empty")
        else:
            self.con.execute(f"CREATE OR REPLACE VIEW {doc_type} AS SELECT * FROM _{doc_type}_empty")

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self.con.close()

    def recent(self, seconds: float, event_name: str | None = None) -> list[dict]:
        """Frames (ws_event, system_event) of the last `seconds`, oldest first: the spool
        segments (read-only) and the raw Parquet, each frame once even if the spool is rolled into
        Parquet meanwhile (deduplicated on session_id, seq)."""
        return [f.model_dump() for f in recent_frames(self.paths, self.con, seconds, event_name)]

    # -- helpers --------------------------------------------------------------------------
    def games(self, start: str, end: str) -> list[dict]:
        """Games first seen on UTC dates start..end (inclusive, YYYY-MM-DD)."""
        return self.rows("SELECT * EXCLUDE (raw_json) FROM games WHERE date BETWEEN ? AND ? ORDER BY first_seen",
                         [start, end])

    def ticks(self, game_id: str) -> list[dict]:
        return self.rows("SELECT * EXCLUDE (raw_json) FROM game_tick WHERE game_id = ? "
                         "ORDER BY ts, session_id, seq", [game_id])

    def trades(self, game_id: str | None = None, player_id: str | None = None) -> list[dict]:
        return self.rows(
            "SELECT * EXCLUDE (raw_json) FROM player_action WHERE action_kind = 'trade' "
            "AND (? IS NULL OR game_id = ?) AND (? IS NULL OR player_id = ?) ORDER BY ts, session_id, seq",
            [game_id, game_id, player_id, player_id])

    def player_state(self, player_id: str) -> list[dict]:
        return self.rows("SELECT * EXCLUDE (raw_json) FROM server_state WHERE player_id = ? "
                         "ORDER BY ts, session_id, seq", [player_id])

    def status(self) -> list[dict]:
        """Per doc_type and date: files, rows, bytes, first/last ts (from Parquet footers and the ts column)."""
        out = []
        for doc_dir in sorted(self.paths.events_parquet.glob("doc_type=*")):
            doc_type = doc_dir.name.split("=", 1)[1]
            for part in sorted(doc_dir.glob("date=*")):
                fs = sorted(part.glob("*.parquet"))
                if not fs:
                    continue
                rows = sum(pq.ParquetFile(arrow_source(f)).metadata.num_rows for f in fs)
                glob = str(part / "*.parquet").replace("'", "''")
                first, last = self.con.execute(f"SELECT min(ts), max(ts) FROM read_parquet('{glob}')").fetchall()[0]
                out.append({"doc_type": doc_type, "date": part.name.split("=", 1)[1], "files": len(fs),
                            "rows": rows, "bytes": sum(f.stat().st_size for f in fs),
                            "first_ts": first.isoformat() if first else None,
                            "last_ts": last.isoformat() if last else None})
        return out
