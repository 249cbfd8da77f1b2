"""Per-file results remembered by (size, mtime_ns): a long-running process (explorer, MCP server) reads a
month of Parquet once, then only the files that are new or changed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger(__name__)

CHUNK = 32  # files per compute call: bounded memory, and progress survives an interruption


class FileMemo:
    def __init__(self) -> None:
        self._memo: dict[Path, tuple[tuple[int, int], Any]] = {}
        self._lock = threading.Lock()
        self.generation = 0  # bumped whenever a result is added or forgotten: derived views can be reused
        self.derived: tuple[int, Any] | None = None  # (generation, value) of a caller's view of all results

    def results(self, files: list[Path], compute: Callable[[list[Path]], dict[Path, Any]]) -> dict[Path, Any]:
        """{file: compute's result} for every file, computing only the new or changed ones; forgets files
        that are gone (every file not in `files`: one memo per file set). A file removed or replaced while
        being read is simply read again next time."""
        with self._lock:
            current: dict[Path, tuple[int, int]] = {}
            for f in files:
                try:
                    st = f.stat()
                except FileNotFoundError:
                    continue
                current[f] = (st.st_size, st.st_mtime_ns)
            for gone in set(self._memo) - set(current):
                del self._memo[gone]
                self.generation += 1
            todo = [f for f, fp in current.items() if self._memo.get(f, (None,))[0] != fp]
            for i in range(0, len(todo), CHUNK):
                chunk = todo[i : i + CHUNK]
                try:
                    got = compute(chunk)
                except (duckdb.IOException, FileNotFoundError) as exc:  # a file vanished mid-read
                    log.info("re-reading later: %s", exc)
                    continue
                for f in chunk:
                    if f in got:
                        self._memo[f] = (current[f], got[f])
                        self.generation += 1
            return {f: self._memo[f][1] for f in current if f in self._memo}

    def view(self, files: list[Path], compute: Callable[[list[Path]], dict[Path, Any]],
             combine: Callable[[dict[Path, Any]], Any]) -> Any:
        """combine(results), recomputed only when some file's result changed since the last call."""
        results = self.results(files, compute)
        with self._lock:
            if self.derived is not None and self.derived[0] == self.generation:
                return self.derived[1]
            generation = self.generation
        value = combine(results)
        with self._lock:
            self.derived = (generation, value)
        return value
