import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { ApprovalPreview } from '../../../src/approvals/approval-registry.js';
import { errorMessage } from '../../../src/idgate-error.js';
import type { UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { only } from '../policy/parse-tree.js';
import type { SqlParser } from '../policy/sql-parser.js';
import { runMessages, runSimpleQuery } from './simple-query.js';
import { Frontend } from '../wire/codes.js';
import { encodeParse, encodeQuery } from '../wire/frontend-messages.js';
import { encodeMessage, type Field } from '../wire/message-writer.js';

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
  /** A prepared statement's bound values, as the approval keeps them (JSON). */
  params?: string,
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
  const values = params === undefined ? undefined : textValues(params);
  if (typeof values === 'string') return { problem: values };
  const tags: string[] = [];
  try {
    if (values === undefined) {
      // The newline ends a trailing -- comment; had the ROLLBACK been lost, the end of the session rolls back all the same.
      await runSimpleQuery(connection, `BEGIN; SET LOCAL statement_timeout = ${DRY_RUN_TIMEOUT_MS}; ${sql}\n; ROLLBACK`, passwords, tags);
    } else {
      // A prepared statement: run as the agent's Bind would, with its values, between the same BEGIN and ROLLBACK.
      await runMessages(connection, extendedDryRun(sql, values), 3, passwords, tags);
    }
  } catch (e) {
    return { problem: `the dry run failed: ${errorMessage(e)}` };
  }
  const rows = Number(tags[2]?.split(' ').at(-1));
  return Number.isInteger(rows) ? { rows } : { problem: `the dry run answered ${tags[2] ?? 'nothing'}` };
}

/** The values of a Bind as recorded (JSON), when all are text or NULL; else why it is not dry-run. */
function textValues(params: string): (string | null)[] | string {
  let values: unknown;
  try {
    values = JSON.parse(params);
  } catch {
    return 'its values could not be read';
  }
  if (!Array.isArray(values) || !values.every((v): v is string | null => v === null || typeof v === 'string')) {
    // A binary value needs the type its Parse named, which the approval does not keep.
    return 'a statement bound with binary values is not dry-run';
  }
  return values;
}

/** BEGIN and the timeout; Parse, Bind (text values), Execute, Sync; ROLLBACK: three ReadyForQuery. */
function extendedDryRun(sql: string, values: readonly (string | null)[]): Buffer[] {
  const bind: Field[] = [{ cstring: '' }, { cstring: '' }, { int16: 0 }, { int16: values.length }];
  for (const v of values) {
    if (v === null) bind.push({ int32: -1 });
    else bind.push({ int32: Buffer.byteLength(v) }, { bytes: Buffer.from(v) });
  }
  bind.push({ int16: 0 });
  return [
    encodeQuery(`BEGIN; SET LOCAL statement_timeout = ${DRY_RUN_TIMEOUT_MS}`),
    encodeParse(Buffer.alloc(0), sql),
    encodeMessage(Frontend.Bind, bind),
    encodeMessage(Frontend.Execute, [{ cstring: '' }, { int32: 0 }]),
    encodeMessage(Frontend.Sync, []),
    encodeQuery('ROLLBACK'),
  ];
}
