"""The data layer: engine, tables, migrations and the named queries in `repo`."""
