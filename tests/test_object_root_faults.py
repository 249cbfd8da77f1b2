"""Faults on an s3:// data root, against a real moto server behind a proxy that cuts the network
mid-upload: a reader sees the previous object or the new one, never a part; a failed roll keeps the
spool segment and a later start uploads it. Plus the cross-host lease, DuckDB reading s3:// without
any extension download, and the features that refuse an object root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import VECTRA, free_port, wait_for

from tests.cut_proxy import CutProxy
from tests.s3_helpers import S3Server, s3_server  # noqa: F401 - fixture
from vectra_capture.store import Lease, LeaseHeld, recover_spool, replace_partition
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.objectstore import ObjectRoot
from vectra_capture.store.raw_sink import compact_segment
from vectra_capture.store.spool import SpoolSegment, segment_path
from vectra_pipeline import duck

MB = 1 << 20


def new_bucket(s3: S3Server, label: str) -> str:
    return s3.make_bucket(f"{label}-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[CutProxy]:  # noqa: F811
    p = CutProxy(urlsplit(s3_server.endpoint_url).port or 0)
    yield p
    p.close()


def paths_via(proxy: CutProxy, s3: S3Server, uri: str, local: Path) -> DataPaths:
    """A data root whose uploads go through the proxy (the test reads the bucket directly)."""
    env = {**s3.env, "AWS_ENDPOINT_URL": proxy.url}
    return DataPaths(local, ObjectRoot.parse(uri, env=env))


def object_bytes(s3: S3Server, bucket: str, key: str) -> bytes:
    return s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def big_table(rows: int, label: str) -> pa.Table:
    """Incompressible: the Parquet file is about rows * 1 KB, several multipart parts."""
    return pa.table({"label": [label] * rows, "blob": [os.urandom(1024) for _ in range(rows)]})


def test_cut_upload_leaves_the_previous_object_and_a_retry_replaces_it(
        proxy: CutProxy, s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = new_bucket(s3_server, "cut")
    paths = paths_via(proxy, s3_server, f"s3://{bucket}/root", tmp_path / "local")
    key = "root/events_parquet/doc_type=games/date=2025-01-01/games.parquet"
    replace_partition(paths, "games", "2025-01-01", pa.table({"label": ["v1"], "blob": [b"x"]}))
    v1 = object_bytes(s3_server, bucket, key)

    v2 = big_table(30_000, "v2")  # ~30 MB: a multipart upload
    proxy.cut_after(12 * MB)  # the network goes away part-way through it
    with pytest.raises(OSError):
        replace_partition(paths, "games", "2025-01-01", v2)
    assert proxy.forwarded > 5 * MB, "the upload must have been under way when it was cut"
    assert object_bytes(s3_server, bucket, key) == v1  # the previous version, whole
    assert s3_server.keys(bucket) == [key]
    assert not [p for p in (tmp_path / "local").rglob("*") if p.is_file()], "staging file left behind"

    proxy.heal()
    replace_partition(paths, "games", "2025-01-01", v2)  # the retry: same key, replaced
    assert s3_server.keys(bucket) == [key]
    got = pq.read_table(pa.BufferReader(object_bytes(s3_server, bucket, key)))
    assert got.num_rows == 30_000 and got["label"][0].as_py() == "v2"


def _segment(paths: DataPaths, session: str, n: int, payload_bytes: int) -> Path:
    seg = SpoolSegment(segment_path(paths.spool, session, 1))
    filler = "z" * payload_bytes
    base = 1_764_460_800_000_000  # 2025-11-30
    for i in range(n):
        raw = json.dumps(["standard/newTrade", {"n": i, "pad": filler}]).encode()
        seg.append(RawRecord("ws_event", base + i * 1000, i, "public_ws", session, raw, event_name="standard/newTrade"))
    seg.sync()
    seg.close()
    return seg.path


def test_failed_roll_keeps_the_segment_and_the_next_start_uploads_it(
        proxy: CutProxy, s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = new_bucket(s3_server, "roll")
    paths = paths_via(proxy, s3_server, f"s3://{bucket}/root", tmp_path / "local")
    seg = _segment(paths, "sess", 400, 40_000)  # ~16 MB of frames in the spool
    proxy.cut_after(0)  # the bucket is unreachable for this roll
    with pytest.raises(OSError):
        compact_segment(paths, seg)
    assert seg.exists() and s3_server.keys(bucket) == []  # nothing lost, nothing partial

    proxy.heal()
    result = recover_spool(paths)  # what the daemon does at its next start
    assert result.records == 400 and not seg.exists()
    keys = s3_server.keys(bucket)
    assert keys == ["root/events_parquet/doc_type=ws_event/date=2025-11-30/sess_000000000000-000000000399.parquet"]
    table = pq.read_table(pa.BufferReader(object_bytes(s3_server, bucket, keys[0])))
    assert table["seq"].to_pylist() == list(range(400))
    recover_spool(paths)  # nothing left: a second start uploads nothing new, duplicates nothing
    assert s3_server.keys(bucket) == keys


def test_lease_refuses_a_second_host_and_names_it(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = new_bucket(s3_server, "lease")
    uri = f"s3://{bucket}/root"
    lease = {"writer": "capture", "host": "other-host", "pid": 4242, "started": time.time(), "heartbeat": time.time()}
    s3_server.client().put_object(Bucket=bucket, Key="root/_leases/capture.json", Body=json.dumps(lease).encode())
    paths = DataPaths.resolve(uri, tmp_path / "local")
    with pytest.raises(LeaseHeld, match="other-host"):
        Lease(paths, "capture").acquire()
    out = subprocess.run([*VECTRA, "capture", "--url", f"http://127.0.0.1:{free_port()}", "--data-dir", uri,
                          "--spool-dir", str(tmp_path / "local")], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "other-host" in out.stderr and "only one host" in out.stderr

    # a stale lease (its host died) does not block; a clean stop removes ours
    lease["heartbeat"] = time.time() - 3600
    s3_server.client().put_object(Bucket=bucket, Key="root/_leases/capture.json", Body=json.dumps(lease).encode())
    with Lease(paths, "capture") as mine:
        held = json.loads(object_bytes(s3_server, bucket, "root/_leases/capture.json"))
        assert (held["host"], held["pid"]) == (mine.host, os.getpid())
    assert s3_server.keys(bucket, "root/_leases/") == []


def test_duckdb_reads_s3_without_any_extension_download(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = new_bucket(s3_server, "duck")
    paths = DataPaths.resolve(f"s3://{bucket}/root", tmp_path / "local")
    replace_partition(paths, "games", "2025-01-01", pa.table({"n": [1, 2, 3]}))
    con = duck.connect()
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (False,)
    got = con.execute(f"SELECT sum(n) FROM read_parquet({duck.quote(paths.glob('games'))})").fetchone()
    assert got == (6,)
    httpfs = con.execute("SELECT installed, loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
                         ).fetchall()
    assert httpfs in ([], [(False, False)])


@pytest.mark.parametrize("args", [["data", "prune", "--before", "2025-01-01", "--yes"],
                                  ["data", "export", "--output", "OUT"], ["explorer", "--port", "0"],
                                  ["mcp"]])
def test_features_not_supported_on_an_object_root_say_so(args: list[str], s3_server: S3Server,  # noqa: F811
                                                          tmp_path: Path) -> None:
    bucket = new_bucket(s3_server, "unsup")
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    out = subprocess.run([*VECTRA, *args, "--data-dir", f"s3://{bucket}/root"], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, "VECTRA_LOCAL_DIR": str(tmp_path / "local")})
    assert out.returncode == 2 and "not supported on an object-storage data root" in out.stderr, out.stderr


UPLOADER = """
import sys
import pyarrow as pa
from pathlib import Path
from vectra_capture.store import replace_partition
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.objectstore import ObjectRoot
import os
root = ObjectRoot.parse(sys.argv[1])
rows = int(sys.argv[3])
table = pa.table({"label": ["v2"] * rows, "blob": [os.urandom(1024) for _ in range(rows)]})
print("writing", flush=True)
replace_partition(DataPaths(Path(sys.argv[2]), root), "games", "2025-01-01", table)
"""


def test_uploader_killed_mid_upload_leaves_no_partial_object(
        proxy: CutProxy, s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = new_bucket(s3_server, "kill")
    key = "root/events_parquet/doc_type=games/date=2025-01-01/games.parquet"
    env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
    script = tmp_path / "uploader.py"
    script.write_text(UPLOADER)
    args = [sys.executable, str(script), f"s3://{bucket}/root", str(tmp_path / "local"), "30000"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        start = proxy.forwarded
        assert wait_for(lambda: proxy.forwarded - start > 12 * MB, 120), "the upload never got going"
        proxy.stall()  # hold the rest back, then kill the uploader mid-upload
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    proxy.heal()
    assert s3_server.keys(bucket) == []  # parts were sent, no object completed
    uploads = s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads] == [key]  # the incomplete upload (a lifecycle rule aborts it)

    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)  # the retry
    assert done.returncode == 0, done.stderr
    assert s3_server.keys(bucket) == [key]
    got = pq.read_table(pa.BufferReader(object_bytes(s3_server, bucket, key)))
    assert got.num_rows == 30_000


def test_a_date_leased_by_another_host_is_not_derived_here_but_other_dates_are(
        s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import dagster as dg

    from vectra_pipeline.defs.landing.assets import system_event, ws_event
    from vectra_pipeline.defs.landing.resources import DataRootResource, VectraDuckDBResource
    from vectra_pipeline.defs.typed.assets import typed_from_raw

    bucket = new_bucket(s3_server, "datelease")
    uri = f"s3://{bucket}/root"
    now = time.time()
    lease = {"writer": "typed-2025-10-29", "host": "worker-b", "pid": 7, "started": now, "heartbeat": now}
    s3_server.client().put_object(Bucket=bucket, Key="root/_leases/typed-2025-10-29.json",
                                  Body=json.dumps(lease).encode())

    monkeypatch.setenv("VECTRA_LOCAL_DIR", str(tmp_path / "local"))

    def derive(date: str) -> dg.ExecuteInProcessResult:
        return dg.materialize([typed_from_raw, ws_event, system_event], selection=[typed_from_raw],
                              partition_key=date, raise_on_error=False,
                              resources={"data_root": DataRootResource(data_dir=uri), "duckdb": VectraDuckDBResource()})

    held = derive("2025-10-29")
    assert not held.success
    failure = held.get_step_failure_events()[0].event_specific_data.error
    assert "LeaseHeld" in failure.to_string() and "worker-b" in failure.to_string()
    assert derive("2025-10-30").success  # another date's writer: free, and its lease is gone after
    assert s3_server.keys(bucket, "root/_leases/") == ["root/_leases/typed-2025-10-29.json"]
