"""Documents from the repository and from debug notes: one per CONTEXT.md section (code_context),
one per decision record and one per note (debug_notes)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import vectra_capture
import vectra_pipeline
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.docs.common import Doc, source_key

REPO_ROOT_ENV = "VECTRA_REPO_ROOT"


def repo_root() -> Path | None:
    """$VECTRA_REPO_ROOT, else the checkout the package was installed from (editable install)."""
    configured = os.environ.get(REPO_ROOT_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    candidate = Path(vectra_pipeline.__file__).resolve().parents[1]
    return candidate if (candidate / "pyproject.toml").exists() else None


def _package_dirs() -> list[Path]:
    return [Path(vectra_capture.__file__).parent, Path(vectra_pipeline.__file__).parent]


_SKIP_DIRS = {".venv", ".git", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "dagster_home"}


def context_files() -> list[tuple[str, Path]]:
    """(repo-relative path, file) of every CONTEXT.md: in the repo root, else in the installed packages."""
    root = repo_root()
    found: list[tuple[str, Path]] = []
    if root is not None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            if "CONTEXT.md" in filenames and "fixtures" not in Path(dirpath).parts:
                f = Path(dirpath) / "CONTEXT.md"
                found.append((f.relative_to(root).as_posix(), f))
    else:
        for pkg in _package_dirs():
            for f in sorted(pkg.rglob("CONTEXT.md")):
                found.append((f.relative_to(pkg.parent).as_posix(), f))
    return sorted(found)


def decision_files() -> list[tuple[str, Path]]:
    root = repo_root()
    if root is None:
        return []
    return [(f.relative_to(root).as_posix(), f) for f in sorted((root / "docs" / "decisions").glob("*.md"))]


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) per `## ` section; text before the first one is the "intro" section."""
    sections: list[tuple[str, str]] = []
    heading, body = "intro", []
    for line in text.splitlines():
        if line.startswith("## "):
            if "".join(body).strip():
                sections.append((heading, "\n".join(body).strip()))
            heading, body = line[3:].strip(), []
        else:
            body.append(line)
    if "".join(body).strip():
        sections.append((heading, "\n".join(body).strip()))
    # a title line alone is not a section worth a vector
    return [(h, b) for h, b in sections if not (h == "intro" and all(x.startswith("# ") for x in b.splitlines() if x.strip()))]


def context_docs(relpath: str, file: Path) -> list[Doc]:
    text = file.read_text(encoding="utf-8", errors="replace")
    folder = str(Path(relpath).parent)
    docs = []
    for i, (heading, body) in enumerate(split_sections(text)):
        slug = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") or str(i)
        docs.append(Doc(id=f"context:{relpath}#{slug}", text=f"{folder} CONTEXT.md, {heading}:\n{body}",
                        kind="code_context", source_file=f"repo:{relpath}", path=relpath))
    return docs


def decision_doc(relpath: str, file: Path) -> Doc:
    text = file.read_text(encoding="utf-8", errors="replace").strip()
    return Doc(id=f"decision:{relpath}", text=text, kind="decision", source_file=f"repo:{relpath}", path=relpath)


def note_docs_for_file(paths: DataPaths, con: Any, file: Path) -> list[Doc]:
    rows = con.execute(
        "SELECT session_id, strftime(ts, '%Y-%m-%d'), strftime(ts, '%Y-%m-%d %H:%M:%S'), text "
        "FROM read_parquet(?, union_by_name=true) ORDER BY ts, session_id",
        [str(file)],
    ).fetchall()
    source = source_key(paths, file)
    return [Doc(id=f"note:{sid}", text=f"Debug note ({at} UTC): {text}", kind="note", source_file=source, date=date)
            for sid, date, at, text in rows]
