"""What a legacy import reports: one `FileResult` per file, the run's totals, a per-file table."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from vectra_capture.legacy.formats import UNKNOWN
from vectra_capture.legacy.reader import Counters
from vectra_capture.store.layout import DataPaths

_TOTAL_KEYS = tuple(Counters().as_dict())  # the reader's counters, summed over files
_COUNTER_FIELDS = frozenset(f.name for f in fields(Counters))


@dataclass
class FileResult:
    """One file's outcome: the reader's counters and what the import wrote."""

    file: str  # the file's key (the manifest key)
    status: str  # imported | skipped | unknown_format | failed
    format: str
    counters: Counters = field(default_factory=Counters)
    quarantine_rows: int = 0
    bytes: int = 0
    games: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    detail: str = ""  # unknown format: why; failed: the error

    def as_dict(self) -> dict[str, Any]:
        """Flat, the counters next to the other fields: the shape of the manifest and the summary."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "counters":
                out.update(self.counters.as_dict())
            else:
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, flat: dict[str, Any]) -> FileResult:
        """The inverse of `as_dict` (a result kept in the manifest); keys it does not know are ignored."""
        counters = Counters(**{k: v for k, v in flat.items() if k in _COUNTER_FIELDS})
        rest = {f.name: flat[f.name] for f in fields(cls) if f.name != "counters" and f.name in flat}
        return cls(counters=counters, **rest)


def failed_result(rel: str, exc: BaseException) -> FileResult:
    return FileResult(file=rel, status="failed", format="", detail=f"{type(exc).__name__}: {exc}")


def summarize(results: list[FileResult], seconds: float, paths: DataPaths) -> dict[str, Any]:
    """Totals over the files imported in this run (skipped files count only in `skipped`)."""
    done = [r for r in results if r.status != "skipped"]
    totals = {k: sum(getattr(r.counters, k) for r in done) for k in _TOTAL_KEYS}
    return {
        "files": len(results),
        "imported_files": sum(r.status == "imported" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "unknown_format": sum(r.format == UNKNOWN for r in results),
        **totals,
        "quarantine_rows": sum(r.quarantine_rows for r in done),
        "bytes": sum(r.bytes for r in done),
        "games": len({g for r in done for g in r.games}),
        "dates": sorted({d for r in done for d in r.dates}),
        "seconds": round(seconds, 3),
        "data_dir": paths.location,
        "per_file": [r.as_dict() for r in results],
    }


def per_file_markdown(summary: dict[str, Any], limit: int = 300) -> str:
    """The per-file status table (failed first, then imported and unknown, then skipped), for asset
    metadata."""
    rows = sorted(summary["per_file"], key=lambda r: (r["status"] != "failed", r["status"] == "skipped", r["file"]))
    out = [
        "| file | status | format | lines | imported | salvaged (records) | quarantined | fragments | blank |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows[:limit]:
        out.append(
            f"| {r['file']} | {r['status']} | {r['format']} | {r['lines']} | {r['imported']} | "
            f"{r['salvaged']} ({r['salvaged_records']}) | {r['quarantined']} | {r['fragments']} | {r['blank']} |"
        )
    if len(rows) > limit:
        out.append(f"| ... {len(rows) - limit} more | | | | | | | | |")
    return "\n".join(out)
