"""One writer per store, checked on the source:
- files under the data root (Parquet, spool, quarantine, manifests, locks) are written only by
  vectra_capture/store/; the one exception is the index removing a `.lance` folder LanceDB can no
  longer open, in vectra_pipeline/index/tables.py;
- LanceDB is connected to only in vectra_pipeline/index/tables.py, and its tables are created or
  changed (create, add, merge, delete, update, optimize, index, drop) only inside vectra_pipeline/index/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vectra_capture", "vectra_pipeline")
STORE = ROOT / "vectra_capture" / "store"
INDEX = ROOT / "vectra_pipeline" / "index"  # the one writer of the LanceDB tables
LANCEDB_CONNECTION = "vectra_pipeline/index/tables.py"
# calls outside the store that may touch the data root, by module: the LanceDB connection, and the
# removal of a corrupt table's folder (LanceDB cannot drop a table it cannot open)
ALLOWED_FILE_WRITES = {LANCEDB_CONNECTION: {"shutil.rmtree", "lancedb.connect", "lancedb.connect_async"}}

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

# LanceDB methods that create or change a table or the database. Their names exist in no other library
# the project uses, so any call of them is a LanceDB mutation whatever the receiver.
LANCEDB_ONLY_MUTATORS = {
    "create_table", "drop_table", "drop_all_tables", "rename_table", "drop_database", "merge_insert",
    "create_index", "create_scalar_index", "create_fts_index", "drop_index", "optimize", "compact_files",
    "cleanup_old_versions", "add_columns", "alter_columns", "drop_columns", "restore",
}
# LanceDB table methods with everyday names (set.add, dict.update...): a mutation only when the receiver
# is a LanceDB table: a call that opens or creates one, a name bound to such a call in the same module,
# or a name spelled like a table handle (tbl, table, events_table, ...).
TABLE_MUTATORS = {"add", "delete", "update"}
TABLE_FACTORIES = {"open_table", "create_table"}
TABLE_HANDLE_NAME = re.compile(r"^(tbl|table|lance_?table|\w+_(tbl|table))$")


def _is_write_mode(node: ast.Call, mode_pos: int) -> bool:
    modes = node.args[mode_pos : mode_pos + 1] + [k.value for k in node.keywords if k.arg == "mode"]
    mode = modes[0].value if modes and isinstance(modes[0], ast.Constant) else "r"
    return any(c in str(mode) for c in "wax+")


def _calls(source: str) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]


def _called_name(node: ast.Call) -> str:
    """`receiver.attr` or `name` of the called function, as written."""
    return ast.unparse(node.func)


def file_writes(source: str, where: str) -> list[str]:
    """Calls that write, rename or delete files (or connect to LanceDB, which writes its folder)."""
    allowed = ALLOWED_FILE_WRITES.get(where, set())
    out = []
    for node in _calls(source):
        func = node.func
        text = f"{where}:{node.lineno}: {ast.unparse(node)[:100]}"
        if _called_name(node) in allowed:
            continue
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


def _factory_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) in TABLE_FACTORIES)


def _table_names(tree: ast.AST) -> set[str]:
    """Names bound anywhere in the module to open_table(...) / create_table(...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and _factory_call(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif (isinstance(node, ast.withitem) and _factory_call(node.context_expr)
              and isinstance(node.optional_vars, ast.Name)):
            names.add(node.optional_vars.id)
    return names


def lancedb_mutations(source: str, where: str) -> list[str]:
    """Calls that create or change a LanceDB table or database."""
    tree = ast.parse(source)
    table_names = _table_names(tree)
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr, receiver = node.func.attr, node.func.value
        on_a_table = (
            _factory_call(receiver)
            or (isinstance(receiver, ast.Name) and (receiver.id in table_names
                                                    or TABLE_HANDLE_NAME.match(receiver.id) is not None))
            or (isinstance(receiver, ast.Attribute) and TABLE_HANDLE_NAME.match(receiver.attr) is not None)
        )
        if attr in LANCEDB_ONLY_MUTATORS or (attr in TABLE_MUTATORS and on_a_table):
            out.append(f"{where}:{node.lineno}: {ast.unparse(node)[:100]}")
    return out


def _modules() -> list[tuple[Path, str]]:
    return [(p, p.relative_to(ROOT).as_posix()) for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_only_the_store_writes_files() -> None:
    offenders = []
    for path, where in _modules():
        if STORE not in path.parents:
            offenders += file_writes(path.read_text(), where)
    assert not offenders, "file writes outside vectra_capture/store/:\n" + "\n".join(offenders)


def test_only_the_index_changes_lancedb_tables() -> None:
    offenders = []
    for path, where in _modules():
        if INDEX not in path.parents:
            offenders += lancedb_mutations(path.read_text(), where)
    assert not offenders, "LanceDB mutations outside vectra_pipeline/index/:\n" + "\n".join(offenders)


def test_the_index_does_change_tables_so_the_scan_sees_it() -> None:
    """The LanceDB rule finds the real mutations where they are allowed: it is not blind to this code."""
    found = lancedb_mutations((INDEX / "build.py").read_text(), "build.py")
    assert {m.split(": ", 1)[1].split("(")[0].split(".")[-1] for m in found} >= {
        "create_table", "merge_insert", "delete", "optimize", "create_index"}


def test_the_guard_catches_file_writers() -> None:
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
    assert len(file_writes(bad, "bad.py")) == 8
    assert file_writes(ok, "ok.py") == []
    # the index's one exception holds in tables.py only
    removal = "shutil.rmtree(folder)\nlancedb.connect(str(root))\n"
    assert file_writes(removal, LANCEDB_CONNECTION) == []
    assert len(file_writes(removal, "vectra_pipeline/index/build.py")) == 2


def test_the_guard_catches_lancedb_mutations() -> None:
    bad = """
db.create_table('events', data=rows)
db.drop_table('events')
tbl.merge_insert('id').when_matched_update_all().execute(rows)
tbl.create_index('vector')
tbl.create_fts_index('text')
tbl.create_scalar_index('kind')
tbl.optimize()
db.open_table('events').add(rows)
events = db.open_table('events')
events.delete("id = 'x'")
tbl.update(where="id = 'x'", values={'text': 'y'})
self.notes_table.add(rows)
"""
    found = lancedb_mutations(bad, "bad.py")
    lines = sorted(int(f.split(":")[1]) for f in found)
    assert lines == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13], found  # every mutation once; line 10 only opens
    ok = """
seen = set()
seen.add('a')
counts.update({'a': 1})
tables.add('events')
tbl.search().where("kind = 'trade'").to_list()
tbl.count_rows()
con.execute('DELETE FROM t')
table = pa.table({'a': [1]})
"""
    assert lancedb_mutations(ok, "ok.py") == []
