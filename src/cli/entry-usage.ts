import type { AuditReader, SessionRow } from '../audit/audit-reader.js';
import type { TranscriptStatement } from '../audit/transcript.js';
import { loadConfigFile, READ_ONLY } from '../config/load-config.js';
import { isWiderThanUsed, UsedAccess } from '../policy/usage.js';
import type { WireProtocol } from '../protocol.js';
import { identityText } from './identity-text.js';
import { transcriptOf } from './session-transcript.js';

/** One application identity (by its app id) under one identity-map entry on one connection, over a window of recorded sessions. */
export interface EntryUsage {
  readonly appId: string;
  readonly objectId: string;
  readonly who: string;
  readonly connection: string;
  readonly mapping: string;
  readonly granted: string;
  readonly sessions: number;
  readonly statements: number;
  readonly lastUs: number;
  /** The narrowest scope that admits what ran ('' when nothing touched a table). */
  readonly used: string;
  readonly overScoped: boolean;
  readonly unanalysable: number;
  /** What left the database: result rows and bytes sent to the client, rows written (sessions that counted them). */
  readonly rowsSent: number;
  readonly rowsWritten: number;
  readonly bytesSent: number;
}

interface Group {
  readonly first: SessionRow;
  readonly statements: string[];
  sessions: number;
  lastUs: number;
  rowsSent: number;
  rowsWritten: number;
  bytesSent: number;
}

/**
 * Per identity and identity-map entry, from the audit log: the scope granted against the
 * narrowest scope that admits every statement that actually ran, read by the enforcing analysis.
 */
export async function usageSince(protocol: WireProtocol, reader: AuditReader, sinceUs: number, configFile: string): Promise<EntryUsage[]> {
  const schemas = searchPaths(configFile);
  const groups = new Map<string, Group>();
  for (const s of reader.sessions({ sinceUs })) {
    const key = `${s.app_id}\u0000${s.mapping}\u0000${s.connection}`;
    let g = groups.get(key);
    if (g === undefined) {
      groups.set(key, (g = { first: s, statements: [], sessions: 0, lastUs: 0, rowsSent: 0, rowsWritten: 0, bytesSent: 0 }));
    }
    g.sessions += 1;
    g.lastUs = Math.max(g.lastUs, s.started_at_us);
    g.rowsSent += s.rows_returned ?? 0;
    g.rowsWritten += s.rows_affected ?? 0;
    g.bytesSent += s.bytes_to_client ?? 0;
    g.statements.push(...ranStatements(protocol, reader, s));
  }
  const out: EntryUsage[] = [];
  for (const g of groups.values()) {
    const s = g.first;
    const schema = schemas.get(s.connection) ?? 'public';
    const { accesses, unanalysable } = await protocol.accessesOfStatements(g.statements, schema);
    const used = new UsedAccess();
    for (const a of accesses) used.add(a);
    const narrowest = used.narrowestScope(schema);
    out.push({
      appId: s.app_id,
      objectId: s.identity_oid,
      who: identityText(s.display_name, s.app_id),
      connection: s.connection,
      mapping: s.mapping,
      granted: s.scope,
      sessions: g.sessions,
      statements: g.statements.length,
      lastUs: g.lastUs,
      used: narrowest,
      overScoped: isWiderThanUsed(s.scope, narrowest, schema),
      unanalysable,
      rowsSent: g.rowsSent,
      rowsWritten: g.rowsWritten,
      bytesSent: g.bytesSent,
    });
  }
  return out;
}

/** The session's statements that ran: not those the gateway refused (the log's own record of its refusals says which). */
function ranStatements(protocol: WireProtocol, reader: AuditReader, s: SessionRow): string[] {
  return transcriptOf(protocol, reader, s)
    .filter((e): e is TranscriptStatement => e.type === 'statement')
    .filter((st) => st.outcome.refusedBy !== 'gateway')
    .map((st) => st.sql);
}

/** The connections' search paths from the configuration, when there is one to read (unqualified tables are there). */
function searchPaths(configFile: string): Map<string, string> {
  try {
    return new Map([...loadConfigFile(configFile, process.env, READ_ONLY).connections.values()].map((c) => [c.name, c.searchPath]));
  } catch {
    return new Map();
  }
}
