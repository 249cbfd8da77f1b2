"""Only vectra_capture/store/ may write under the data root: no other runtime module may
open files for writing, rename, delete, make folders, write Parquet or connect to LanceDB."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "vectra_capture" / "store"

FORBIDDEN_CALLS = {
    "write_text", "write_bytes", "write_table", "write_dataset", "ParquetWriter", "replace", "rename",
    "unlink", "rmtree", "remove", "removedirs", "rmdir", "mkdir", "makedirs", "connect", "touch",
    "copy", "copyfile", "copy2", "copytree", "move", "to_parquet",
}
# Calls whose receiver is not a filesystem object, so the name is harmless.
ALLOWED_RECEIVERS = {"str", "text", "s", "name", "line", "sio", "client", "self.sio", "self", "duckdb", "dt", "ts"}


def _receiver(node: ast.Call) -> str:
    func = node.func
    return ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        where = f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:90]}"
        if name == "open":
            modes = [a for a in node.args[1:2]] + [k.value for k in node.keywords if k.arg == "mode"]
            mode = modes[0].value if modes and isinstance(modes[0], ast.Constant) else "r"
            if any(c in str(mode) for c in "wax+"):
                out.append(where)
        elif name in FORBIDDEN_CALLS:
            receiver = _receiver(node)
            if name == "connect" and receiver not in {"lancedb"}:
                continue  # sockets and duckdb connections are fine
            if name in {"replace", "remove"} and receiver not in {"os", "shutil"}:
                continue  # str.replace, list.remove
            if receiver in ALLOWED_RECEIVERS and name not in {"mkdir", "unlink", "rename", "write_text", "write_bytes"}:
                continue
            out.append(where)
        elif isinstance(node.func, ast.Attribute) and name == "execute" or name == "sql":
            for arg in node.args[:1]:
                text = ast.unparse(arg).upper()
                if "COPY " in text and " TO " in text:
                    out.append(where)
    return out


def test_only_the_store_writes() -> None:
    offenders = []
    for pkg in ("vectra_capture", "vectra_pipeline"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if STORE in path.parents:
                continue
            offenders += _violations(path)
    assert not offenders, "writes outside vectra_capture/store/:\n" + "\n".join(offenders)


def test_the_guard_catches_a_writer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nopen('x', 'w').write('y')\nos.replace('a', 'b')\nimport lancedb\nlancedb.connect('v')\n")
    # _violations needs paths under ROOT for its report; check the logic on a copy of the text.
    tree_path = ROOT / "tests" / "_guard_probe.py"
    tree_path.write_text(bad.read_text())
    try:
        assert len(_violations(tree_path)) == 3
    finally:
        tree_path.unlink()
