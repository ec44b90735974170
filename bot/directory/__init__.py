"""The resource directory: HSDS tables in SQLAlchemy, the line's own rules, and the in-memory snapshot.

data/ is an HSDS 3.0 Tabular Data Package (`hsds` reads and writes it; docs/directory.md says
how it is laid out). The database is loaded from it at start (and when it changes); texts are
answered from the snapshot, never with a query per text.

Parts: `models` (tables), `hsds` (the package format), `facts` (HSDS rows to what a reply
needs), `rules` (the line's own rules), `hours` (open now), `snapshot` (what replies are made
from), `database` (schema, loading, reading), `cache` (a worker's snapshot, kept fresh),
`reports` (ages and needs), `service_file` (one service from a short file).
"""

from bot.directory.cache import DirectoryCache
from bot.directory.database import (
    DIRECTORY_FILE,
    import_package,
    load_database,
    make_engine,
    migrate,
    read_data,
    read_snapshot,
    read_tables,
    snapshot_from_data,
)
from bot.directory.reports import age_report, need_report
from bot.directory.snapshot import Snapshot

__all__ = ["DIRECTORY_FILE", "DirectoryCache", "Snapshot", "age_report", "import_package", "load_database",
           "make_engine", "migrate", "need_report", "read_data", "read_snapshot", "read_tables", "snapshot_from_data"]
