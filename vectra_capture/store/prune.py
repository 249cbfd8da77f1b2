"""Deleting old partitions (`vectra data prune`): by parsed date, never by comparing text.

What goes: every `events_parquet/doc_type=<t>/date=<d>` with d < before. What stays unless asked:
`debug_note` partitions (notes are canonical, written by people, not re-derivable) and
`quarantine/<source>/date=<d>` (the only copy of what could not be parsed). Folders whose date
does not parse are never touched; they are listed as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path

from vectra_capture.store.atomic import remove_empty_dirs, remove_file
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.notes import DEBUG_NOTE
from vectra_capture.store.partitions import delete_partition


def partition_date(folder: Path) -> Date | None:
    """The date of a `date=YYYY-MM-DD` folder; None for anything else (`date=20251030` included)."""
    key, _, value = folder.name.partition("=")
    if key != "date" or len(value) != 10 or value[4] != "-" or value[7] != "-":
        return None
    try:
        return Date.fromisoformat(value)
    except ValueError:
        return None


@dataclass
class PrunePlan:
    before: Date
    delete: list[tuple[str, str]] = field(default_factory=list)  # (doc_type, date)
    delete_quarantine: list[tuple[str, str]] = field(default_factory=list)  # (source, date)
    kept_notes: list[str] = field(default_factory=list)  # dates of debug_note partitions kept
    kept_quarantine: list[str] = field(default_factory=list)  # "<source>/<date>" kept
    skipped: list[str] = field(default_factory=list)  # folders whose name is not a date


def plan_prune(paths: DataPaths, before: Date, include_quarantine: bool = False,
               include_notes: bool = False) -> PrunePlan:
    plan = PrunePlan(before)
    for doc in sorted(paths.events_parquet.glob("doc_type=*")):
        doc_type = doc.name.split("=", 1)[1]
        for part in sorted(doc.glob("date=*")):
            day = partition_date(part)
            if day is None:
                plan.skipped.append(str(part.relative_to(paths.root)))
            elif day < before:
                if doc_type == DEBUG_NOTE and not include_notes:
                    plan.kept_notes.append(day.isoformat())
                else:
                    plan.delete.append((doc_type, day.isoformat()))
    for source in sorted(p for p in paths.quarantine.glob("*") if p.is_dir()):
        for part in sorted(source.glob("date=*")):
            day = partition_date(part)
            if day is None:
                plan.skipped.append(str(part.relative_to(paths.root)))
            elif day < before:
                if include_quarantine:
                    plan.delete_quarantine.append((source.name, day.isoformat()))
                else:
                    plan.kept_quarantine.append(f"{source.name}/{day.isoformat()}")
    return plan


def delete_quarantine_partition(paths: DataPaths, source: str, date: str) -> int:
    part = paths.quarantine / source / f"date={date}"
    removed = sum(remove_file(p) for p in part.glob("*.parquet"))
    remove_empty_dirs(part)
    return removed


def apply_prune(paths: DataPaths, plan: PrunePlan) -> int:
    """Delete what the plan lists; returns the number of files removed."""
    removed = sum(delete_partition(paths, t, d) for t, d in plan.delete)
    return removed + sum(delete_quarantine_partition(paths, s, d) for s, d in plan.delete_quarantine)
