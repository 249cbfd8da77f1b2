"""The JSONL export streams each partition through DuckDB: the output must equal an in-memory
reference (whole partition loaded, stable-sorted by ts, session_id, seq) for mixed schemas and types."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.export import export_jsonl


def _enc(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value))


def _reference(files: list[Path]) -> list[str]:
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    table = table.sort_by([("ts", "ascending"), ("session_id", "ascending"), ("seq", "ascending")])
    return [json.dumps(r, default=_enc, ensure_ascii=False, separators=(",", ":")) for r in table.to_pylist()]


def test_streamed_export_equals_the_in_memory_reference(tmp_path: Path) -> None:
    paths = DataPaths.resolve(tmp_path / "data")
    part = paths.events_parquet / "doc_type=game_tick" / "date=2025-11-02"
    part.mkdir(parents=True)
    base = dt.datetime(2025, 11, 2, 5, 59, 59, 123456, tzinfo=dt.UTC)
    n = 6_000  # two files, 12k rows: more than one 10k-row batch, many exact (ts, session_id, seq) ties
    ts_type = pa.timestamp("us", tz="UTC")

    def table(offset: int, with_flag: bool) -> pa.Table:
        cols = {
            "ts": pa.array([base + dt.timedelta(seconds=(i * 7) % 50) for i in range(n)], type=ts_type),
            "session_id": pa.array([None if i % 11 == 0 else f"s{i % 3}" for i in range(n)]),
            "seq": pa.array([i % 5 for i in range(n)], type=pa.int64()),  # many exact key ties
            "price": pa.array([decimal.Decimal(f"{i}.{offset:018d}") for i in range(n)], type=pa.decimal128(38, 18)),
            "raw": pa.array([bytes([i % 256, offset]) for i in range(n)], type=pa.binary()),
            "raw_json": pa.array([json.dumps({"u": "é\u2028😀", "i": i, "o": offset}, ensure_ascii=False)
                                  for i in range(n)]),
            "tags": pa.array([[f"t{i % 4}"] if i % 2 else None for i in range(n)], type=pa.list_(pa.string())),
        }
        if with_flag:
            cols["flag"] = pa.array([i % 3 == 0 for i in range(n)])
        else:
            cols["extra"] = pa.array([dt.date(2025, 11, 2)] * n)
        return pa.table(cols)

    pq.write_table(table(1, True), part / "a.parquet")
    pq.write_table(table(2, False), part / "b.parquet")
    files = sorted(part.glob("*.parquet"))
    out = tmp_path / "export"
    whole = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive").nbytes
    held: list[int] = []
    before = pa.total_allocated_bytes()
    # right after a partition is written: a loaded-whole partition would still be in Arrow memory
    summary = export_jsonl(paths, out, ["game_tick"],
                           on_partition=lambda _w: held.append(pa.total_allocated_bytes() - before))
    assert held and held[0] < whole / 4, (held, whole)  # streamed: batches come from DuckDB, then go
    got = (out / "game_tick" / "2025-11-02.jsonl").read_text(encoding="utf-8").split("\n")
    assert got[-1] == "" and summary["rows"] == 2 * n
    assert got[:-1] == _reference(files)
