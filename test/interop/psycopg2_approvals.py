"""psycopg2 meets a write that needs approval: IGA01 with a request id, approval through the admin
endpoint, then the identical statement runs once. psycopg2 writes its parameters into the text
(a simple query), so an approval pins the values too. Prints what it saw as JSON."""
import json
import re
import sys
import urllib.request

import psycopg2

conninfo, token, admin, admin_token = sys.argv[1:5]
out = {}


def approve(request_id):
    req = urllib.request.Request(
        f"{admin}/approvals/{request_id}/approve",
        data=json.dumps({"by": "psycopg2-test", "reason": "interop"}).encode(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as r:
        return r.status


conn = psycopg2.connect(conninfo, password=token)
cur = conn.cursor()
try:
    cur.execute("DELETE FROM records WHERE id = %s", (41,))
    out["first"] = "ran"
except psycopg2.Error as e:
    out["first"] = e.pgcode
    out["request"] = re.search(r"request ([0-9a-f]{12})", e.pgerror or "").group(1)
conn.rollback()  # the error aborted psycopg2's implicit transaction, as any error does
out["approved"] = approve(out["request"])
cur.execute("DELETE FROM records WHERE id = %s", (41,))
out["rowcount"] = cur.rowcount
conn.commit()
try:
    cur.execute("DELETE FROM records WHERE id = %s", (41,))
    out["again"] = "ran"
except psycopg2.Error as e:
    out["again"] = e.pgcode
conn.rollback()
conn.close()
print(json.dumps(out))
