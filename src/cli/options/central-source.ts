import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { copyCentral, type CentralScope } from '../../audit/central/central-copy.js';
import { centralTarget, connectCentral } from '../../audit/central/central-target.js';
import { parsePostgresUrl } from '../../config/postgres-url.js';
import { errorMessage, UsageError } from '../../idgate-error.js';

// The central store's half of --db, loaded only when --db is a postgres:// URL: pg (and the fetch
// machinery it wakes by looking for a Cloudflare runtime) costs a reading command's start ~30 ms of
// CPU it does not need for a local file.

/** Copies `scope` of the central store at `url` into a fresh temporary database; returns its path. */
export async function copyFromCentral(url: string, scope: CentralScope): Promise<string> {
  const client = await connectCentralFor(url, 'idgate cli');
  const path = join(mkdtempSync(join(tmpdir(), 'idgate-central-')), 'central.db');
  try {
    await copyCentral(client, scope, path);
    return path;
  } catch (e) {
    rmSync(join(path, '..'), { recursive: true, force: true });
    throw e;
  } finally {
    await client.end();
  }
}

/** Connects to the central store at `url` for a command, or says in one line why it cannot (never the password). */
export async function connectCentralFor(url: string, applicationName: string): Promise<pg.Client> {
  const target = centralTarget(parsePostgresUrl(url, '--db'));
  try {
    return await connectCentral(target, applicationName);
  } catch (e) {
    throw new UsageError('central-unreachable', `--db: cannot reach the central store at ${target.host}:${target.port}: ${why(e)}`);
  }
}

/** A connection failure in a few words: the system's error code, else the server's message. */
function why(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is it running, on that port?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'no such host';
    case 'ETIMEDOUT':
      return 'timed out';
    case '28P01':
    case '28000':
      return `login refused (${errorMessage(e)})`;
    default:
      return errorMessage(e);
  }
}
