"""lancedb imported without its REST namespace client: the client's API modules are not loaded, yet
the client is still there on first use, and a local table still works (a fresh process each)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from vectra_pipeline.index.lance_import import import_lancedb
lancedb = import_lancedb()
assert "lance_namespace_urllib3_client.api" not in sys.modules, "REST client API modules were imported"
import pyarrow as pa
db = lancedb.connect(sys.argv[1])
t = db.create_table("t", pa.table({"id": ["a", "b"], "vector": [[0.0, 1.0], [1.0, 0.0]]}))
assert t.search([1.0, 0.0]).limit(1).to_list()[0]["id"] == "b"
import lance_namespace_urllib3_client as client
assert client.ApiClient.__name__ == "ApiClient"  # deferred, not lost: the real __init__ runs on first use
assert "lance_namespace_urllib3_client.api" in sys.modules
print("ok")
"""


def test_lancedb_without_the_rest_client_still_works(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "db")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
