import { entryName } from '../policy/entry-name.js';
import type { LiveSession } from '../session/session-registry.js';

/** A live session as `GET /sessions` shows it (and `idgate status` prints it). */
export interface SessionView {
  readonly id: string;
  readonly node: string;
  readonly identity: string;
  readonly appId: string;
  readonly displayName: string | null;
  readonly clientUser: string;
  readonly connection: string;
  /** The identity-map entry that admitted it (policy/entry-name.ts). */
  readonly entry: string;
  readonly scope: string;
  readonly clientAddress: string;
  readonly startedAt: string;
  readonly state: string;
  readonly lastStatementAt: string | null;
  readonly statements: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly rowsReturned: number;
  readonly rowsAffected: number;
}

export function sessionView(session: LiveSession, node: string): SessionView {
  const { identity, connection, rule } = session.grant;
  const a = session.activity;
  return {
    id: session.id,
    node,
    identity: identity.objectId,
    appId: identity.appId,
    displayName: identity.displayName ?? null,
    clientUser: session.clientUser,
    connection: connection.name,
    entry: entryName(rule),
    scope: rule.scope,
    clientAddress: session.clientAddress,
    startedAt: session.startedAt.toISOString(),
    state: a.state,
    lastStatementAt: a.lastStatementAt === undefined ? null : new Date(a.lastStatementAt).toISOString(),
    statements: a.statements,
    bytesFromClient: a.bytesFromClient,
    bytesToClient: a.bytesToClient,
    rowsReturned: a.rowsReturned,
    rowsAffected: a.rowsAffected,
  };
}
