import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { ApprovalPreview } from '../../../src/approvals/approval-registry.js';
import { errorMessage } from '../../../src/idgate-error.js';
import type { UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { only } from '../policy/parse-tree.js';
import type { SqlParser } from '../policy/sql-parser.js';
import { runSimpleQuery } from './simple-query.js';

/** The statements a dry run can count: one row-changing statement, nothing that could end a transaction. */
const PREVIEWABLE = new Set(['DeleteStmt', 'UpdateStmt', 'InsertStmt', 'MergeStmt']);
const DRY_RUN_TIMEOUT_MS = 5000;

/**
 * How many rows a statement held for approval would change: run on a session of its own, inside a
 * transaction that is rolled back, under a 5 s statement timeout. Only a text that is exactly one
 * INSERT, UPDATE, DELETE or MERGE is run — a second statement could be a COMMIT. It does execute:
 * what it does outside the transaction (a sequence advances, a trigger calls out) happens, which
 * is why `approvals.preview` is off unless turned on.
 */
export async function dryRun(
  connection: ConnectionConfig,
  sql: string,
  parser: SqlParser,
  passwords: UpstreamPasswords,
): Promise<ApprovalPreview> {
  let kinds: string[];
  try {
    kinds = (parser.parse(sql).stmts ?? []).map((s) => (s.stmt === undefined ? '' : only(s.stmt)[0]));
  } catch (e) {
    return { problem: `the statement does not parse: ${errorMessage(e)}` };
  }
  if (kinds.length !== 1 || !PREVIEWABLE.has(kinds[0] ?? '')) {
    return { problem: 'only a lone INSERT, UPDATE, DELETE or MERGE is dry-run' };
  }
  const tags: string[] = [];
  try {
    // The newline ends a trailing -- comment; had the ROLLBACK been lost, the end of the session rolls back all the same.
    await runSimpleQuery(connection, `BEGIN; SET LOCAL statement_timeout = ${DRY_RUN_TIMEOUT_MS}; ${sql}\n; ROLLBACK`, passwords, tags);
  } catch (e) {
    return { problem: `the dry run failed: ${errorMessage(e)}` };
  }
  const rows = Number(tags[2]?.split(' ').at(-1));
  return Number.isInteger(rows) ? { rows } : { problem: `the dry run answered ${tags[2] ?? 'nothing'}` };
}
