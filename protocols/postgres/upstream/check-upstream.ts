import { isAccessError } from '../../../src/access-error.js';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import { TERMINATE } from '../wire/frontend-messages.js';
import { STORED_PASSWORDS, type UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { loginUpstream } from './login-upstream.js';


/** Logs in to a connection's upstream and leaves at once; returns why it failed, or undefined. */
export async function checkUpstream(connection: ConnectionConfig, passwords: UpstreamPasswords = STORED_PASSWORDS): Promise<string | undefined> {
  try {
    const session = await loginUpstream(connection, new Map([['application_name', 'idgate check']]), passwords);
    session.socket.end(TERMINATE);
    return undefined;
  } catch (e) {
    if (isAccessError(e)) return e.internalDetail ? `${e.message}: ${e.internalDetail}` : e.message;
    throw e;
  }
}
