import { readFileSync, existsSync } from 'node:fs';
import { postgres } from '../../protocols/postgres/index.js';
import { AuditReader, type SessionFilter } from '../../src/audit/audit-reader.js';
import { sessionJson } from '../../src/cli/session-json.js';
import { transcriptOf } from '../../src/cli/session-transcript.js';
import type { Harness } from './harness.js';

/** Waits for every session to end and every event to reach the audit database. */
export async function settleAudit(h: Harness): Promise<void> {
  await h.assertNoLeaks();
  await h.gateway.services.audit.flushed();
}

/**
 * What `idgate show ID --json` prints, one object per line: made in this process by the functions
 * the command prints (a CLI process costs ~0.3 s of CPU, and the suites read the log ~150 times;
 * the commands themselves, as processes, are tested in cli.test.ts and cli-scripts.test.ts).
 */
export function showJson(h: Harness, sessionId: string): Promise<Record<string, unknown>[]> {
  // A promise, as the callers await it (a failure rejects); the read itself is synchronous.
  return Promise.resolve().then(() =>
    withReader(h, (reader) => {
      const session = reader.session(sessionId);
      if (session === undefined) throw new Error(`no session ${sessionId} in the audit database`);
      return [sessionJson(session), ...transcriptOf(postgres, reader, session)].map(printed);
    }),
  );
}

/** What `idgate sessions --json` prints for the filter, one object per session, made in this process (see showJson). */
export function sessionsJson(h: Harness, filter: SessionFilter = {}): Promise<Record<string, unknown>[]> {
  return Promise.resolve().then(() => withReader(h, (reader) => reader.sessions(filter).map((row) => printed(sessionJson(row)))));
}

/** Reads the harness's audit database, as the command would: what the caller settled (settleAudit) is in it. */
function withReader<T>(h: Harness, read: (reader: AuditReader) => T): T {
  const reader = new AuditReader(h.config.recordingsPath);
  try {
    return read(reader);
  } finally {
    reader.close();
  }
}

/** A value as the command prints it and a reader parses it: through JSON (undefined fields gone, dates as text). */
function printed(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

/** The raw bytes of the audit database and its WAL, to search for secrets. */
export function auditBytes(path: string): Buffer {
  return Buffer.concat([path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}
