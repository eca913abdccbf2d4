import { SHADOWED_BUILTINS_QUERY, shadowsFromRows, type ShadowedBuiltins } from '../policy/shadowed-builtins.js';
import type { UpstreamSession } from './login-upstream.js';
import { endpointOf, type KeptAnswer } from './overload-lookups.js';
import { querySession } from './session-query.js';

/**
 * Which built-in names a scoped session's own search path overloads (policy/shadowed-builtins.ts):
 * the answer of the connection's kept lookup session when it gave one from the server this session
 * is connected to (overload-lookups.ts, asked beside this session's login), else asked of this
 * session's upstream right after login, as its role and with its settings — exactly what the server
 * will resolve its statements against. Returns the session to relay.
 */
export async function readShadowedBuiltins(
  session: UpstreamSession,
  timeoutMs: number,
  /** The server's major version: which names are its built-ins. */
  major: number,
  /** The kept session's answer, or undefined when it could not give one. */
  kept?: Promise<KeptAnswer | undefined>,
): Promise<{ readonly shadows: ShadowedBuiltins; readonly session: UpstreamSession; readonly answeredBy: 'kept' | 'own' }> {
  const answered = await kept;
  // Another server of the same name (a replica behind round-robin DNS) may not have replayed what this one has.
  if (answered !== undefined && answered.endpoint === endpointOf(session)) {
    return { shadows: shadowsFromRows(answered.rows, major), session, answeredBy: 'kept' };
  }
  const answer = await querySession(session, SHADOWED_BUILTINS_QUERY, timeoutMs, 'lookup of overloaded built-in names');
  return { shadows: shadowsFromRows(answer.rows, major), session: answer.session, answeredBy: 'own' };
}
