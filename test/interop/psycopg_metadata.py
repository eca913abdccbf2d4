"""psycopg 3's own catalog lookups through the gateway: TypeInfo and CompositeInfo query pg_type,
pg_attribute and pg_class (the queries are psycopg's, not ours). Prints one JSON line."""
import json
import sys

import psycopg
from psycopg.types import TypeInfo
from psycopg.types.composite import CompositeInfo

conninfo, password = sys.argv[1], sys.argv[2]
with psycopg.connect(conninfo, password=password) as conn:
    int4 = TypeInfo.fetch(conn, "int4")
    records = CompositeInfo.fetch(conn, "records")
    print(json.dumps({"int4": int4.oid if int4 else None, "records": records.field_names if records else None}))
