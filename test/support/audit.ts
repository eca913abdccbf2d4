import { readFileSync, existsSync } from 'node:fs';
import { idgate } from './cli.js';
import type { Harness } from './harness.js';

/** Waits for every session to end and every event to reach the audit database. */
export async function settleAudit(h: Harness): Promise<void> {
  await h.assertNoLeaks();
  await h.gateway.services.audit.flushed();
}

/** `idgate show --json` of one session, parsed line by line. */
export async function showJson(h: Harness, sessionId: string): Promise<Record<string, unknown>[]> {
  const r = await idgate(['show', sessionId, '--json', '--db', h.config.recordingsPath]);
  if (r.code !== 0) throw new Error(`idgate show failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `idgate sessions --json`, parsed. */
export async function sessionsJson(h: Harness, ...filters: string[]): Promise<Record<string, unknown>[]> {
  const r = await idgate(['sessions', '--json', '--db', h.config.recordingsPath, ...filters]);
  if (r.code !== 0) throw new Error(`idgate sessions failed: ${r.stderr}`);
  return r.stdout.trim() === ''
    ? []
    : r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The raw bytes of the audit database and its WAL, to search for secrets. */
export function auditBytes(path: string): Buffer {
  return Buffer.concat([path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}
