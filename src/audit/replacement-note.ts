import { readFileSync } from 'node:fs';
import type { Predecessor } from './audit-store.js';

/** Where the writer notes a database that went under it (removed or replaced): beside the path. */
export function replacementNotePath(databasePath: string): string {
  return `${databasePath}.replaced`;
}

/** The predecessor a note beside the path names, or undefined when there is none (or it does not read as one). */
export function readReplacementNote(databasePath: string): Predecessor | undefined {
  let text: string;
  try {
    text = readFileSync(replacementNotePath(databasePath), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const note = JSON.parse(text) as Partial<Predecessor>;
    const heads = note.heads;
    const valid =
      typeof note.logId === 'string' &&
      heads !== undefined &&
      Number.isSafeInteger(heads.sealSeq) &&
      typeof heads.sealHash === 'string' &&
      Number.isSafeInteger(heads.loginSeq) &&
      typeof heads.loginHash === 'string';
    // Unreadable, it still says a database was there before: named, with its heads unknown.
    return valid
      ? { logId: note.logId, heads, noticedBy: 'running-process' }
      : { logId: undefined, heads: undefined, noticedBy: 'running-process' };
  } catch {
    return { logId: undefined, heads: undefined, noticedBy: 'running-process' };
  }
}
