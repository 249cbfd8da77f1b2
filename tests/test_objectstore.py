"""The object-store root against a real S3-compatible server: every client reads what pyarrow wrote."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.s3_helpers import S3Server, s3_server  # noqa: F401 - fixture
from vectra_capture.store.objectstore import ObjectRoot, ObjectRootError, is_object_uri


def test_parse_rejects_what_is_not_a_bucket() -> None:
    assert is_object_uri("s3://b/p") and not is_object_uri("/tmp/x")
    with pytest.raises(ObjectRootError):
        ObjectRoot.parse("s3:///no-bucket")
    root = ObjectRoot.parse("s3://bucket/some/prefix/", env={})
    assert (root.base, root.key("events_parquet/x.parquet")) == ("bucket/some/prefix", "bucket/some/prefix/events_parquet/x.parquet")


def test_pyarrow_writes_duckdb_and_lance_read(s3_server: S3Server) -> None:  # noqa: F811
    s3_server.make_bucket("objroot")
    root = ObjectRoot.parse("s3://objroot/data")
    table = pa.table({"seq": [1, 2, 3], "event": ["a", "b", "c"]})
    pq.write_table(table, root.key("events_parquet/t.parquet"), filesystem=root.pyarrow_fs())
    assert s3_server.keys("objroot") == ["data/events_parquet/t.parquet"]

    con = duckdb.connect()
    con.register_filesystem(root.fsspec_fs())
    got = con.execute(f"select sum(seq) from read_parquet('{root.child_uri('events_parquet/*.parquet')}')").fetchone()
    assert got == (6,)

    import lancedb

    db = lancedb.connect(root.child_uri("vectors"), storage_options=root.lance_storage_options())
    db.create_table("t", data=[{"vector": [0.1, 0.2], "text": "x"}])
    assert db.open_table("t").count_rows() == 1
    assert any(k.startswith("data/vectors/t.lance/") for k in s3_server.keys("objroot"))
