"""A session ended from the server's side (the gateway revoking it, or Postgres's own
pg_terminate_backend), seen by psycopg2 or psycopg 3: prints "ready" once connected, then one JSON
object with what the driver raised (its SQLSTATE attribute and message).
Mode "idle": the session is ended between statements, and the next statement, sent after a line on
stdin, meets the end; "busy": it is ended while a statement runs."""
import json
import sys

driver, conninfo, password, mode = sys.argv[1:5]
if driver == "psycopg2":
    import psycopg2 as db

    conn = db.connect(conninfo, password=password)
    conn.autocommit = True
    sqlstate = lambda e: e.pgcode
else:
    import psycopg as db

    conn = db.connect(conninfo, password=password, autocommit=True)
    sqlstate = lambda e: e.sqlstate
cur = conn.cursor()
cur.execute("SELECT 1")
print("ready", flush=True)
if mode == "idle":
    sys.stdin.readline()
out = {}
try:
    cur.execute("SELECT 1" if mode == "idle" else "SELECT pg_sleep(20)")
    out["next"] = "ran"
except db.Error as e:
    out["sqlstate"] = sqlstate(e)
    out["message"] = str(e).strip()
print(json.dumps(out), flush=True)
