"""A psycopg2 session for the audit tests: simple queries with client-side parameters, an error, COPY."""
import io
import sys

import psycopg2

conninfo, token = sys.argv[1:3]
conn = psycopg2.connect(conninfo, password=token)
cur = conn.cursor()
cur.execute("SELECT title FROM records WHERE id = %s", (11,))
cur.fetchone()
try:
    cur.execute("SELECT * FROM psycopg_missing")
except psycopg2.Error:
    conn.rollback()
cur.execute("CREATE TEMP TABLE py_rec (n int)")
cur.copy_expert("COPY py_rec FROM STDIN", io.StringIO("1\n2\n3\n"))
conn.commit()
conn.close()
