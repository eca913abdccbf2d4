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
    # Pipelined: a read, the held write and a read in one batch; the write's IGA01 aborts the batch
    # from there (as any error does), and the session goes on.
    try:
        with conn.pipeline():
            first = conn.execute("SELECT count(*) FROM records")
            conn.execute("DELETE FROM records WHERE id = %s", (row + 100,))
            conn.execute("SELECT 2")
        print("PIPELINE ran", flush=True)
    except psycopg.Error as e:
        print("PIPELINE", e.sqlstate, first.fetchone()[0] > 0, flush=True)
    print("SESSION", conn.execute("SELECT 1").fetchone()[0], flush=True)
