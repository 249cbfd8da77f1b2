"""Private data stays private: credentials in the capture URL are redacted wherever the URL is
recorded (rows, status file, log), and everything under the data root is the owner's only
(folders 0700, files 0600) unless RUGS_DATA_MODE says otherwise. Real feed, daemon and files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from capture_helpers import rows
from click.testing import CliRunner
from conftest import LEGACY_DIR, RAW_SAMPLES, VECTRA, Proc, free_port, wait_for, wait_port

from vectra_capture.store import FileLock, atomic_write_json, ensure_dir, write_status_file
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.spool import SpoolSegment, segment_path
from vectra_capture.urls import redact_text, redact_url
from vectra_pipeline.cli import main

SECRETS = ("alice", "hunter2pw", "s3cr3tT0ken", "jwtvalue")


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """A capture from a URL with credentials, a legacy import and a note, into a fresh root,
    under the usual umask 022 (the store must not rely on the umask)."""
    workdir = tmp_path_factory.mktemp("privacy")
    data = workdir / "data"
    old_umask = os.umask(0o022)
    started: list[Proc] = []
    try:
        port = free_port()
        feed = Proc(["feed", "serve", "--port", str(port), "--speed", "4", "--loop", str(RAW_SAMPLES)], workdir, "feed")
        started.append(feed)
        wait_port(port)
        url = f"http://alice:hunter2pw@127.0.0.1:{port}/?token=s3cr3tT0ken&frontend-version=1.0&jwt=jwtvalue"
        daemon = Proc(["capture", "--url", url, "--data-dir", str(data)], workdir, "daemon")
        started.append(daemon)
        status_file = DataPaths(data).capture_status
        assert wait_for(lambda: status_file.exists() and json.loads(status_file.read_text()).get("written", 0) > 20, 60)
        seen = {"status_text": status_file.read_text(), "port": port}
        assert daemon.stop() == 0, daemon.stderr()
        seen["log"] = daemon.stderr()
        feed.stop()
        legacy = sorted(LEGACY_DIR.glob("*.jsonl"))[:2]
        imported = subprocess.run([*VECTRA, "legacy", "import", "--data-dir", str(data), *map(str, legacy)],
                                  capture_output=True, text=True)
        assert imported.returncode == 0, imported.stderr
        noted = subprocess.run([*VECTRA, "notes", "add", "--no-index", "--data-dir", str(data), "a private note"],
                               capture_output=True, text=True)
        assert noted.returncode == 0, noted.stderr
        yield data, seen
    finally:
        os.umask(old_umask)
        for p in started:
            if p.popen.poll() is None:
                p.popen.kill()


def test_credentials_in_the_url_are_redacted_everywhere(captured: tuple[Path, dict]) -> None:
    data, seen = captured
    expected = (f"http://REDACTED@127.0.0.1:{seen['port']}/?token=REDACTED&frontend-version=1.0"
                f"&jwt=REDACTED")
    paths = DataPaths(data)
    urls = rows(paths, "system_event", "event_name, json_extract_string(raw_json, '$.url')",
                "event_name in ('session_start', 'connect')")
    assert [u for _, u in urls] == [expected, expected]
    assert json.loads(seen["status_text"])["url"] == expected
    assert "REDACTED" in seen["log"]
    for secret in SECRETS:
        assert secret not in seen["status_text"] and secret not in seen["log"], secret
    for path in data.rglob("*"):
        if not path.is_file():
            continue
        text = str(pq.read_table(path).to_pylist()) if path.suffix == ".parquet" else path.read_bytes().decode(
            "utf-8", "replace")
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {path}"


def test_everything_under_the_data_root_is_private(captured: tuple[Path, dict]) -> None:
    data, _ = captured
    entries = [data, *data.rglob("*")]
    kinds = {p.suffix for p in entries if p.is_file()}
    assert {".parquet", ".json", ".lock"} <= kinds  # rows, quarantine, manifests, status, locks
    wrong = [f"{p} {stat.S_IMODE(p.stat().st_mode):o}" for p in entries
             if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)]
    assert not wrong, wrong


def test_rugs_data_mode_chooses_another_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUGS_DATA_MODE", "0750")
    paths = DataPaths(tmp_path / "data")
    ensure_dir(paths.manifests)
    atomic_write_json(paths.manifests / "m.json", {"a": 1})
    write_status_file(paths, "capture-status.json", {"state": "x"})
    with FileLock(paths.capture_lock):
        pass
    seg = SpoolSegment(segment_path(paths.spool, "s", 1))
    seg.append(RawRecord("ws_event", 0, 1, "public_ws", "s", b"[]", event_name="e"))
    seg.close()
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert modes == {
        "data": 0o750, "data/manifests": 0o750, "data/manifests/m.json": 0o640, "data/run": 0o750,
        "data/run/capture-status.json": 0o640, "data/run/capture.lock": 0o640, "data/spool": 0o750,
        "data/spool/s": 0o750, "data/spool/s/00000001.wal": 0o640,
    }
    monkeypatch.setenv("RUGS_DATA_MODE", "0644")  # the owner must keep rwx on folders
    result = CliRunner().invoke(main, ["legacy", "import", "--data-dir", str(tmp_path / "other")])
    assert result.exit_code == 2 and "RUGS_DATA_MODE" in result.output and result.exception.__class__ is SystemExit


@pytest.mark.parametrize(("url", "expected"), [
    ("https://backend.rugs.fun?frontend-version=1.0", "https://backend.rugs.fun?frontend-version=1.0"),
    ("http://u:p@h:81/x?token=t&a=1#frag", "http://REDACTED@h:81/x?token=REDACTED&a=1#frag"),
    ("wss://h/?apiKey=k&X-Amz-Signature=s&access_token=a&monkey=1&sid=9",
     "wss://h/?apiKey=REDACTED&X-Amz-Signature=REDACTED&access_token=REDACTED&monkey=1&sid=REDACTED"),
    ("http://p%40ss:w@rd@h/?password=x&secret=y&auth=z&key=k",
     "http://REDACTED@h/?password=REDACTED&secret=REDACTED&auth=REDACTED&key=REDACTED"),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_text(f"cannot reach {url} now") == f"cannot reach {expected} now"
