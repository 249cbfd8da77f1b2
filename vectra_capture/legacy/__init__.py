"""Legacy JSONL recordings: read them (`reader.read_legacy_file`) and import them into the raw store
(`importer.import_legacy`). See CONTEXT.md."""
