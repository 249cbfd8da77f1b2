"""Only vectra_capture/store/ may write under the data root: no other runtime module opens files
for writing, renames, deletes, makes folders, writes Parquet, connects to LanceDB or COPYs out."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "vectra_capture" / "store"
INDEX = ROOT / "vectra_pipeline" / "index"  # the one writer of the LanceDB tables

# Methods that write whatever object they are called on (Path, pyarrow, pandas...).
WRITING_METHODS = {"write_text", "write_bytes", "mkdir", "unlink", "rename", "rmdir", "touch", "symlink_to",
                   "hardlink_to", "write_table", "write_dataset", "ParquetWriter", "to_parquet", "write_to_dataset"}
# Module functions that write, by module.
WRITING_FUNCTIONS = {
    "os": {"replace", "rename", "remove", "unlink", "makedirs", "mkdir", "rmdir", "removedirs", "truncate"},
    "shutil": {"rmtree", "copy", "copyfile", "copy2", "copytree", "move"},
    "lancedb": {"connect", "connect_async"},
    "pq": {"write_table", "write_to_dataset", "ParquetWriter"},
}


def _is_write_mode(node: ast.Call, mode_pos: int) -> bool:
    modes = node.args[mode_pos : mode_pos + 1] + [k.value for k in node.keywords if k.arg == "mode"]
    mode = modes[0].value if modes and isinstance(modes[0], ast.Constant) else "r"
    return any(c in str(mode) for c in "wax+")


def violations(source: str, where: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        text = f"{where}:{node.lineno}: {ast.unparse(node)[:100]}"
        if isinstance(func, ast.Name):
            if func.id == "open" and _is_write_mode(node, 1):
                out.append(text)
            continue
        if not isinstance(func, ast.Attribute):
            continue
        receiver = ast.unparse(func.value)
        if (
            func.attr in WRITING_METHODS
            or func.attr in WRITING_FUNCTIONS.get(receiver, set())
            or (func.attr == "open" and _is_write_mode(node, 0))
        ):
            out.append(text)
        elif func.attr in {"execute", "sql"} and node.args:
            sql = ast.unparse(node.args[0]).upper()
            if "COPY " in sql and " TO " in sql:
                out.append(text)
    return out


def test_only_the_store_writes() -> None:
    offenders = []
    for pkg in ("vectra_capture", "vectra_pipeline"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if STORE not in path.parents and INDEX not in path.parents:
                offenders += violations(path.read_text(), str(path.relative_to(ROOT)))
    assert not offenders, "writes outside vectra_capture/store/:\n" + "\n".join(offenders)


def test_the_guard_catches_writers() -> None:
    bad = """
import os, shutil, lancedb
open('x', 'w').write('y')
open('x', mode='ab')
os.replace('a', 'b')
shutil.rmtree('d')
lancedb.connect('v')
path.write_text('t')
path.open('w')
con.execute("COPY t TO 'f.parquet'")
"""
    ok = "open('x').read()\npath.open()\ncounts.copy()\nname.replace('a', 'b')\nduckdb.connect()\n"
    assert len(violations(bad, "bad.py")) == 8
    assert violations(ok, "ok.py") == []
