import { isAccessError } from '../../../src/access-error.js';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import { TERMINATE } from '../wire/frontend-messages.js';
import { STORED_PASSWORDS, type UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { analysisContextFor, pinnedStartupSettings } from '../policy/scoped-session.js';
import { loginUpstream, type UpstreamSession } from './login-upstream.js';
import { querySession } from './session-query.js';
import { SHADOWED_BUILTINS_QUERY, shadowsNote } from '../policy/shadowed-builtins.js';

/** Logs in to a connection's upstream and leaves at once; returns why it failed, or undefined. */
export async function checkUpstream(
  connection: ConnectionConfig,
  passwords: UpstreamPasswords = STORED_PASSWORDS,
): Promise<string | undefined> {
  try {
    const session = await loginUpstream(connection, new Map([['application_name', 'idgate check']]), passwords);
    session.socket.end(TERMINATE);
    return undefined;
  } catch (e) {
    if (isAccessError(e)) return e.internalDetail ? `${e.message}: ${e.internalDetail}` : e.message;
    throw e;
  }
}

/**
 * Whether scoped (parsed) sessions can run on this upstream: logs in as a scoped session does
 * (pinned lexical settings, the connection's search_path) and asks what a login would — a parser
 * for the server's major version, the pinned values taken, the built-in names the search path
 * overloads. Returns why scoped sessions would be refused, or notes about what they are limited to.
 */
export async function checkScopedUpstream(
  connection: ConnectionConfig,
  passwords: UpstreamPasswords = STORED_PASSWORDS,
): Promise<string[]> {
  const parameters = new Map([['application_name', 'idgate check'], ['search_path', connection.searchPath], ...pinnedStartupSettings()]);
  let session: UpstreamSession;
  try {
    session = await loginUpstream(connection, parameters, passwords);
  } catch (e) {
    if (isAccessError(e)) return [`scoped sessions cannot log in: ${e.message}`];
    throw e;
  }
  try {
    const context = await analysisContextFor(session.parameters, connection.searchPath);
    const { rows } = await querySession(
      session,
      SHADOWED_BUILTINS_QUERY,
      connection.connectTimeoutMs,
      'lookup of overloaded built-in names',
    );
    const notes = [shadowsNote(rows, context.parser.major)];
    if (context.asciiNamesOnly) {
      notes.push(
        `the server's encoding is ${session.parameters.get('server_encoding') ?? '?'}: scoped sessions may name tables, schemas and functions in ASCII only`,
      );
    }
    return notes.filter((n): n is string => n !== undefined);
  } catch (e) {
    if (isAccessError(e)) return [`scoped sessions will be refused: ${e.message}`];
    throw e;
  } finally {
    session.socket.end(TERMINATE);
  }
}
