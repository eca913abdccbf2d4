import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { ApprovalPreview } from '../../../src/approvals/approval-registry.js';
import { errorMessage } from '../../../src/idgate-error.js';
import type { UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { only } from '../policy/parse-tree.js';
import type { SqlParser } from '../policy/sql-parser.js';
import { runMessages } from './simple-query.js';
import { Frontend } from '../wire/codes.js';
import { encodeBind, encodeParse, encodeQuery } from '../wire/frontend-messages.js';
import { readBoundValues, valueOnWire, type BoundStatement } from '../policy/bound-values.js';
import { encodeMessage } from '../wire/message-writer.js';

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
  /** The credential, and the asking session's upstream login parameters (settings, identity, search path): the statement reads as it would there. */
  login: { readonly passwords: UpstreamPasswords; readonly parameters: ReadonlyMap<string, string> },
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
  const bound = params === undefined ? undefined : readBoundValues(params);
  if (typeof bound === 'string') return { problem: bound };
  const tags: string[] = [];
  // As the asking session logged in, but named for what it is in pg_stat_activity (a name changes nothing a statement reads).
  const parameters = new Map([...login.parameters].filter(([name]) => name.toLowerCase() !== 'application_name'));
  parameters.set('application_name', 'idgate approval preview');
  const run = { passwords: login.passwords, parameters, tags };
  try {
    if (bound === undefined) {
      // The newline ends a trailing -- comment; had the ROLLBACK been lost, the end of the session rolls back all the same.
      await runMessages(
        connection,
        [encodeQuery(`BEGIN; SET LOCAL statement_timeout = ${DRY_RUN_TIMEOUT_MS}; ${sql}\n; ROLLBACK`)],
        1,
        run,
      );
    } else {
      // A prepared statement: run as the agent's Parse and Bind would, with its types and values, between the same BEGIN and ROLLBACK.
      await runMessages(connection, extendedDryRun(sql, bound), 3, run);
    }
  } catch (e) {
    return { problem: `the dry run failed: ${errorMessage(e)}` };
  }
  const rows = Number(tags[2]?.split(' ').at(-1));
  return Number.isInteger(rows) ? { rows } : { problem: `the dry run answered ${tags[2] ?? 'nothing'}` };
}

/** BEGIN and the timeout; Parse (with the pinned types), Bind (the pinned values, each in its format), Execute, Sync; ROLLBACK: three ReadyForQuery. */
function extendedDryRun(sql: string, { types, values }: BoundStatement): Buffer[] {
  return [
    encodeQuery(`BEGIN; SET LOCAL statement_timeout = ${DRY_RUN_TIMEOUT_MS}`),
    encodeParse(Buffer.alloc(0), sql, types),
    encodeBind(values.map(valueOnWire)),
    encodeMessage(Frontend.Execute, [{ cstring: '' }, { int32: 0 }]),
    encodeMessage(Frontend.Sync, []),
    encodeQuery('ROLLBACK'),
  ];
}
