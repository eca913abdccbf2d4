/**
 * An anchor: where one log's chains stood at a moment, written somewhere the gateway's host
 * cannot rewrite (`idgate anchor`). Signatures show a row was not forged; they cannot show that
 * nothing newer existed — a file writer can cut the newest rows or put back an older copy, and
 * the rest still verifies. An anchor can: the log must still reach the heads it names, with the
 * same hashes, or a signed prune must have cut past them.
 */
export interface Anchor {
  readonly atUs: number;
  readonly logId: string;
  readonly node: string | null;
  readonly sealSeq: number;
  readonly sealHash: string;
  readonly loginSeq: number;
  readonly loginHash: string;
}

/** One anchor as a JSON line (the file target's format, one per line, appended). */
export function anchorLine(a: Anchor): string {
  return `${JSON.stringify({ v: 1, ...a })}\n`;
}

/** The anchors in a file target's text; a line that does not read as one is reported, not skipped silently. */
export function parseAnchorLines(text: string): { readonly anchors: Anchor[]; readonly unreadable: number[] } {
  const anchors: Anchor[] = [];
  const unreadable: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const a = anchorOf(safeParse(line));
    if (a === undefined) unreadable.push(i + 1);
    else anchors.push(a);
  });
  return { anchors, unreadable };
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** An anchor from a parsed JSON object or a table row, or undefined when it is not one. */
export function anchorOf(value: unknown): Anchor | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const num = (x: unknown): number | undefined => {
    const n = typeof x === 'string' ? Number(x) : x;
    return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  };
  const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);
  const atUs = num(v['atUs'] ?? v['at_us']);
  const logId = str(v['logId'] ?? v['log_id']);
  const sealSeq = num(v['sealSeq'] ?? v['seal_seq']);
  const sealHash = str(v['sealHash'] ?? v['seal_hash']);
  const loginSeq = num(v['loginSeq'] ?? v['login_seq']);
  const loginHash = str(v['loginHash'] ?? v['login_hash']);
  const node = v['node'] ?? v['node_id'];
  if (
    atUs === undefined ||
    logId === undefined ||
    sealSeq === undefined ||
    sealHash === undefined ||
    loginSeq === undefined ||
    loginHash === undefined
  ) {
    return undefined;
  }
  return { atUs, logId, node: typeof node === 'string' ? node : null, sealSeq, sealHash, loginSeq, loginHash };
}
