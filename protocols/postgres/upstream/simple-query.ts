import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import { Backend } from '../wire/codes.js';
import { decodeErrorFields } from '../wire/error-fields.js';
import { newUpstreamQueue } from './connect-upstream.js';
import { encodeQuery, TERMINATE } from '../wire/frontend-messages.js';
import { decodeCommandComplete, decodeDataRow } from '../wire/backend-messages.js';
import { STORED_PASSWORDS, type UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { loginUpstream } from './login-upstream.js';
import { IdgateError } from '../../../src/idgate-error.js';
import type { MessageQueue } from '../message-queue.js';

/** A statement that failed on the server, with its SQLSTATE. */
export class QueryError extends IdgateError {
  override readonly name = 'QueryError';
  override readonly code = 'upstream-query-failed';
  constructor(
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Logs in with a connection's credential, runs one simple Query (which may hold several
 * statements) and returns the text of every row (NULL as null). For administration and tests,
 * not the relay: it needs no client library and no psql binary.
 */
export async function runSimpleQuery(
  connection: ConnectionConfig,
  sql: string,
  passwords: UpstreamPasswords = STORED_PASSWORDS,
  /** Filled with each statement's command tag, in order, when given. */
  tags?: string[],
): Promise<(string | null)[][]> {
  return runMessages(connection, [encodeQuery(sql)], 1, { passwords, ...(tags !== undefined ? { tags } : {}) });
}

/** How `runMessages` logs in and what it reports besides the rows. */
export interface RunOptions {
  readonly passwords?: UpstreamPasswords;
  /** The startup parameters to log in with (application_name `idgate` when none are given). */
  readonly parameters?: ReadonlyMap<string, string>;
  /** Filled with each statement's command tag, in order. */
  readonly tags?: string[];
}

/**
 * Like `runSimpleQuery`, for any frontend messages: sends them at once and reads until `ready`
 * ReadyForQuery came (one per Query and Sync sent). The first error is thrown after that.
 */
export async function runMessages(
  connection: ConnectionConfig,
  messages: readonly Buffer[],
  ready: number,
  { passwords = STORED_PASSWORDS, parameters = new Map([['application_name', 'idgate']]), tags }: RunOptions = {},
): Promise<(string | null)[][]> {
  const session = await loginUpstream(connection, parameters, passwords);
  const queue = newUpstreamQueue();
  queue.feed(session.leftover);
  queue.attach(session.source);
  session.socket.write(Buffer.concat(messages));
  try {
    const { rows, error } = await readReplies(queue, ready, tags);
    if (error) throw error;
    return rows;
  } finally {
    queue.detach();
    session.socket.end(TERMINATE);
  }
}

/** What the server may send at any time, not as a reply to the query. */
const ASYNCHRONOUS = new Set<number>([Backend.NoticeResponse, Backend.ParameterStatus, Backend.NotificationResponse]);

/**
 * Reads the server's replies until `ready` ReadyForQuery came: every row's text (NULL as null),
 * each statement's command tag into `tags` when given, and the first error (the rest is read all
 * the same). Messages that are not replies (a NOTICE, a ParameterStatus, a notification) go to
 * `others` when given, whole and in order.
 */
export async function readReplies(
  queue: MessageQueue,
  ready: number,
  tags?: string[],
  others?: Buffer[],
): Promise<{ readonly rows: (string | null)[][]; readonly error: QueryError | undefined }> {
  const rows: (string | null)[][] = [];
  let error: QueryError | undefined;
  for (let seen = 0; seen < ready;) {
    const message = await queue.typed();
    if (message.code === Backend.DataRow) rows.push(decodeDataRow(message.body).map((v) => v?.toString('utf8') ?? null));
    else if (message.code === Backend.CommandComplete) tags?.push(decodeCommandComplete(message.body, 0));
    else if (message.code === Backend.ErrorResponse) {
      const fields = decodeErrorFields(message.body);
      error ??= new QueryError(fields.get('C') ?? '', fields.get('M') ?? 'query failed');
    } else if (message.code === Backend.ReadyForQuery) seen += 1;
    else if (ASYNCHRONOUS.has(message.code)) others?.push(message.frame);
  }
  return { rows, error };
}
