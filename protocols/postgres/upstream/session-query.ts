import { AccessError } from '../../../src/access-error.js';
import { encodeQuery } from '../wire/frontend-messages.js';
import { newUpstreamQueue } from './connect-upstream.js';
import type { UpstreamSession } from './login-upstream.js';
import { readReplies } from './simple-query.js';

/**
 * Runs one query of the gateway's own on a session just logged in, before anything of the client
 * is relayed, within `timeoutMs`; returns every row's text (NULL as null) and the session to hand
 * the relay (what the server sent besides the replies, and what arrived after them, kept first). A server error refuses the
 * session: the gateway does not go on without the answer.
 */
export async function querySession(
  session: UpstreamSession,
  sql: string,
  timeoutMs: number,
  /** What the query is for, in the refusal. */
  purpose: string,
): Promise<{ readonly rows: (string | null)[][]; readonly session: UpstreamSession }> {
  const queue = newUpstreamQueue();
  queue.feed(session.leftover);
  queue.attach(session.source);
  const deadline = setTimeout(() => {
    queue.fail(new AccessError('upstream-unreachable', `the upstream database did not answer in time (${purpose})`));
  }, timeoutMs);
  try {
    session.socket.write(encodeQuery(sql));
    const asynchronous: Buffer[] = [];
    const { rows, error } = await readReplies(queue, 1, undefined, asynchronous);
    if (error !== undefined) {
      throw new AccessError(
        'upstream-rejected',
        `the upstream database refused the gateway's ${purpose}: ${error.sqlstate} ${error.message}`,
      );
    }
    // A NOTICE or ParameterStatus the server sent meanwhile is the client's: relayed first, before what followed.
    return { rows, session: { ...session, leftover: Buffer.concat([...asynchronous, queue.takeRemaining()]) } };
  } finally {
    clearTimeout(deadline);
    queue.detach();
  }
}
