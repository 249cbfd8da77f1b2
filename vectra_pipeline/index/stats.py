"""Per table: rows, document kinds, version, indices, checkpoint state and the model check, for
`vectra index stats`. Reads only."""

from __future__ import annotations

from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.checkpoint import read_checkpoint, table_entry
from vectra_pipeline.index.embedder import Embedder, get_embedder
from vectra_pipeline.index.model_check import model_check
from vectra_pipeline.index.tables import TABLES, open_table, table_exists


def stats(paths: DataPaths, embedder: Embedder | None = None) -> dict[str, Any]:
    embedder = embedder or get_embedder()  # no model load: name, dimension and path only
    checkpoint = read_checkpoint(paths)
    out: dict[str, Any] = {"model": checkpoint.get("model"), "dim": checkpoint.get("dim"), "tables": {}}
    for table in TABLES:
        info: dict[str, Any] = {"exists": table_exists(paths, table)}
        entry = table_entry(checkpoint, table)
        info.update({"files_tracked": len(entry.get("files", {})), "built_at": entry.get("built_at"),
                     "last_mode": entry.get("last_mode")})
        if info["exists"]:
            try:
                tbl = open_table(paths, table)
                kinds = tbl.search().select(["kind"]).limit(None).to_arrow()["kind"].value_counts().to_pylist()
                info.update({"rows": tbl.count_rows(), "version": tbl.version,
                             "kinds": {k["values"]: k["counts"] for k in kinds},
                             "indices": sorted(getattr(i, "name", str(i)) for i in tbl.list_indices())})
            except Exception as exc:
                info["error"] = f"{exc}; rebuild with --full"
            ok, message = model_check(paths, table, embedder)
            info["model_check"] = message
            if not ok:
                info.setdefault("error", message)
        out["tables"][table] = info
    return out


def head_rows(paths: DataPaths, table: str, limit: int) -> list[dict[str, Any]] | None:
    """The first `limit` rows of a table without the vector and hash columns (None: no table)."""
    if not table_exists(paths, table):
        return None
    head = open_table(paths, table).head(limit)
    return head.select([c for c in head.column_names if c not in ("vector", "text_hash")]).to_pylist()
