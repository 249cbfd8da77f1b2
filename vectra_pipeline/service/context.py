"""What one process keeps between service calls: the data root, one DuckDB connection (behind a lock:
pages may be served from several threads), per-file memos and the spool tail. The explorer, the MCP
server and each CLI call make one Context and pass it to the service functions."""

from __future__ import annotations

import threading
from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_pipeline import duck
from vectra_pipeline.query import Query
from vectra_pipeline.service.filememo import FileMemo
from vectra_pipeline.service.recent import SpoolTail


class Context:
    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths
        self.lock = threading.RLock()
        self._query: Query | None = None
        self.event_stats = FileMemo()  # raw ws_event file -> per-event statistics (catalog.py)
        self.footers = FileMemo()  # any Parquet file -> row count (overview.py)
        self.tail = SpoolTail(paths, duck.connect)

    @classmethod
    def open(cls, data_dir: str | None = None) -> Context:
        return cls(DataPaths.resolve(data_dir))

    def _fresh_query(self) -> Query:
        if self._query is None:
            self._query = Query(self.paths)
        else:
            self._query.refresh()
        return self._query

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        """Rows of a query over the doc_type views (query.py), as dicts."""
        with self.lock:
            return self._fresh_query().rows(sql, params)

    def execute(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of any read-only query (the views, or read_parquet over given files), as tuples."""
        with self.lock:
            return self._fresh_query().con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        with self.lock:
            if self._query is not None:
                self._query.close()
                self._query = None
