"""The service layer: one set of functions under the Protocol Explorer, the `vectra` CLI and the MCP
server. Each takes a `Context` (context.py) and returns pydantic models; errors are errors.py classes.
Kept import-free here so `query.py` can use `service.recent` without a cycle."""
