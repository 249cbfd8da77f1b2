"""The data root on S3-compatible storage, end to end against a real moto server process:
capture (feed -> daemon) and legacy import land raw Parquet in s3://, Dagster derives typed
partitions there, DuckDB and the `vectra` CLI read them, a vector build writes a LanceDB table there
and `vectra index query` answers from it. The same inputs on a local folder give the same rows."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import dagster as dg
import pytest
from conftest import LEGACY_DIR, RAW_SAMPLES, VECTRA, capture_recording

from tests.s3_helpers import S3Server, s3_server  # noqa: F401 - fixture
from vectra_capture.store.layout import DataPaths
from vectra_pipeline import duck
from vectra_pipeline.defs.landing.assets import system_event, ws_event
from vectra_pipeline.defs.landing.resources import DataRootResource, VectraDuckDBResource
from vectra_pipeline.defs.typed import assets as typed

TYPED = [typed.typed_from_raw, typed.games]
TYPED_TABLES = ("game_tick", "player_action", "server_state", "complete_game", "games")


def bucket_name(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}"


def vectra(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VECTRA, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=600)


def vectra_json(*args: str, env: dict[str, str] | None = None) -> dict | list:
    out = vectra(*args, "--json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def materialize(data_dir: str, dates: list[str]) -> None:
    for date in dates:
        result = dg.materialize(
            [*TYPED, ws_event, system_event, dg.AssetSpec("legacy_recordings")],
            selection=dg.AssetSelection.assets(*TYPED), partition_key=date,
            resources={"data_root": DataRootResource(data_dir=data_dir), "duckdb": VectraDuckDBResource()})
        assert result.success


def dates_of(paths: DataPaths, doc_type: str) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in paths.doc_type_dir(doc_type).glob("date=*"))


def rows(paths: DataPaths, doc_type: str, columns: str = "*", where: str = "true") -> list[tuple]:
    """Through DuckDB (on s3: the registered filesystem), sorted, so two roots compare equal."""
    con = duck.connect()
    try:
        return sorted(con.execute(
            f"SELECT {columns} FROM read_parquet({duck.quote(paths.glob(doc_type))}, hive_partitioning = true, "
            f"union_by_name = true) WHERE {where}").fetchall(), key=repr)
    finally:
        con.close()


@pytest.fixture(scope="module")
def s3_root(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> DataPaths:  # noqa: F811
    """Capture + legacy import + typed derivation on an s3:// root (shared by the tests below)."""
    bucket = s3_server.make_bucket(bucket_name("e2e"))
    uri = f"s3://{bucket}/vectra"
    work = tmp_path_factory.mktemp("s3e2e")
    local = work / "local"
    os.environ["VECTRA_LOCAL_DIR"] = str(local)

    procs: list = []

    def start(args: list[str], name: str, env: dict[str, str] | None = None):
        from conftest import Proc
        p = Proc(args, work, name, env)
        procs.append(p)
        return p

    try:
        summary = capture_recording(start, uri, [RAW_SAMPLES])  # type: ignore[arg-type]
        assert summary["emitted"] > 0
        imported = vectra("legacy", "import", "--data-dir", uri, str(LEGACY_DIR))
        assert imported.returncode == 0, imported.stderr
    finally:
        for p in procs:
            if p.popen.poll() is None:
                p.popen.kill()
    paths = DataPaths.resolve(uri)
    materialize(uri, dates_of(paths, "ws_event"))
    return paths


def test_capture_and_legacy_import_land_in_the_bucket(s3_root: DataPaths, s3_server: S3Server) -> None:  # noqa: F811
    assert s3_root.remote is not None
    keys = s3_server.keys(s3_root.remote.bucket, "vectra/")
    raw = [k for k in keys if k.startswith("vectra/events_parquet/doc_type=ws_event/")]
    system = [k for k in keys if k.startswith("vectra/events_parquet/doc_type=system_event/")]
    assert raw and system and "vectra/manifests/legacy_import.json" in keys
    sources = {r[0] for r in rows(s3_root, "ws_event", "source")}
    assert sources == {"public_ws", "replay"}  # the legacy import's rows are source 'replay'
    captured = len(rows(s3_root, "ws_event", "seq", "source = 'public_ws'"))
    assert captured == len(RAW_SAMPLES.read_text().splitlines())  # every emitted frame, once
    # nothing canonical stayed behind on local disk; the spool is empty, the lease released
    local = s3_root.root
    assert not list(local.rglob("*.parquet")) and not list((local / "spool").rglob("*.wal"))
    assert not [k for k in keys if k.startswith("vectra/_leases/")]


def test_typed_partitions_derived_in_the_bucket_and_read_by_the_cli(s3_root: DataPaths,
                                                                    s3_server: S3Server) -> None:  # noqa: F811
    assert s3_root.remote is not None
    keys = s3_server.keys(s3_root.remote.bucket, "vectra/events_parquet/")
    for table in TYPED_TABLES:
        assert any(k.startswith(f"vectra/events_parquet/doc_type={table}/date=") for k in keys), table
    status = vectra_json("data", "status", "--data-dir", s3_root.location)
    by_type = {}
    for entry in status:
        by_type[entry["doc_type"]] = by_type.get(entry["doc_type"], 0) + entry["rows"]
    for table in TYPED_TABLES:
        assert by_type.get(table, 0) == len(rows(s3_root, table, "ts")) > 0, table


def test_vector_index_built_in_the_bucket_and_queried(s3_root: DataPaths, s3_server: S3Server) -> None:  # noqa: F811
    assert s3_root.remote is not None
    built = vectra_json("index", "build", "--full", "--table", "events", "--data-dir", s3_root.location)
    assert built["embedded"] > 0
    keys = s3_server.keys(s3_root.remote.bucket, "vectra/")
    assert any(k.startswith("vectra/vectors/events.lance/") for k in keys)
    assert "vectra/manifests/vector_index_checkpoint.json" in keys
    assert not (s3_root.root / "vectors").exists()
    trade = next(r for r in rows(s3_root, "player_action", "game_id", "action_kind = 'trade'"))
    hits = vectra_json("index", "query", "a trade", "--where", f"game_id = '{trade[0]}'", "--data-dir",
                       s3_root.location)
    assert hits and all(h["game_id"] == trade[0] for h in hits)


def test_same_inputs_same_rows_as_a_local_folder(s3_root: DataPaths, tmp_path: Path) -> None:
    """The legacy import and its typed tables, on a local folder: the same rows as on s3."""
    local = DataPaths.resolve(tmp_path / "data")
    imported = vectra("legacy", "import", "--data-dir", str(local.root), str(LEGACY_DIR))
    assert imported.returncode == 0, imported.stderr
    legacy_dates = dates_of(local, "ws_event")
    materialize(str(local.root), legacy_dates)
    assert rows(local, "ws_event") == rows(s3_root, "ws_event", "*", "source = 'replay'")
    quoted = ", ".join(duck.quote(d) for d in legacy_dates)
    derived = {}
    for table in TYPED_TABLES:
        local_rows = rows(local, table, "* EXCLUDE (date)")
        assert local_rows == rows(s3_root, table, "* EXCLUDE (date)", f"date IN ({quoted})"), table
        derived[table] = len(local_rows)
    assert derived["game_tick"] > 0 and derived["games"] > 0, derived
