"""The MCP server for assistants: tools search, sql, protocol, live, add_note and the data root's
documents as resources (server.py); the read-only SQL behind `sql` (sql_guard.py, readonly_sql.py)."""
