"""Drives the gateway with psycopg2 (Debian's python3-psycopg2); prints one JSON object of findings."""
import json
import sys
import threading
import time

import psycopg2

conninfo, token, expired, unmapped = sys.argv[1:5]
out = {}

conn = psycopg2.connect(conninfo, password=token)
cur = conn.cursor()
cur.execute("SELECT current_user, %s::int + 1", (41,))
out["login"] = list(cur.fetchone())
cur.execute("PREPARE by_id(int) AS SELECT title FROM records WHERE id = $1; EXECUTE by_id(%s)", (5,))
out["prepared"] = cur.fetchone()[0]
cur.execute("CREATE TEMP TABLE py_copy (n int, t text)")
import io
cur.copy_expert("COPY py_copy FROM STDIN", io.StringIO("".join(f"{i}\tpy {i}\n" for i in range(300))))
buf = io.StringIO()
cur.copy_expert("COPY (SELECT count(*), sum(n) FROM py_copy) TO STDOUT", buf)
out["copy"] = buf.getvalue().strip()
conn.commit()

timer = threading.Timer(0.3, conn.cancel)
timer.start()
started = time.time()
try:
    cur.execute("SELECT pg_sleep(30)")
    out["cancel"] = "not cancelled"
except psycopg2.Error as e:
    out["cancel"] = e.pgcode
out["cancel_seconds"] = time.time() - started
conn.rollback()
cur.execute("SELECT 1")
out["after_cancel"] = cur.fetchone()[0]
conn.close()

for name, bad in (("expired", expired), ("unmapped", unmapped), ("garbage", "x")):
    try:
        psycopg2.connect(conninfo, password=bad).close()
        out[name] = "connected"
    except psycopg2.OperationalError as e:
        out[name] = " ".join(str(e).split())

print(json.dumps(out))
