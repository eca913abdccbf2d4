"""psycopg 3 meets a write that needs approval: it binds its parameters server-side (the extended
protocol), so the approval pins the values. Waits for a line on stdin (the test approves), then
runs the statement again, and once more. Prints one line per step."""
import sys

import psycopg

conninfo, token, row = sys.argv[1], sys.argv[2], int(sys.argv[3])


def attempt(conn):
    try:
        return f"rows {conn.execute('DELETE FROM records WHERE id = %s', (row,)).rowcount}"
    except psycopg.Error as e:
        return f"{e.sqlstate} {str(e).splitlines()[0]}"


with psycopg.connect(conninfo, password=token, autocommit=True) as conn:
    print("ASKED", attempt(conn), flush=True)
    sys.stdin.readline()
    print("RAN", attempt(conn), flush=True)
    print("AGAIN", attempt(conn), flush=True)
    print("SESSION", conn.execute("SELECT 1").fetchone()[0], flush=True)
