"""Named queries. Routes, the scheduler and the CLI call these; nothing else
builds SQL."""
