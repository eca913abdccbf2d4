import type { Anchor } from './anchor-record.js';
import type { ChainHeads } from './audit-store.js';
import type { Finding } from './verify-finding.js';

/** One chain (seals or login attempts) as verify walked it: the hash at each position it holds, where it starts. */
export interface ChainPositions {
  readonly hashAt: ReadonlyMap<number, string>;
  /** The position the chain resumes after (a prune checkpoint or a replaced origin), 0 from the start. */
  readonly startSeq: number;
  readonly startHash: string;
  readonly lastSeq: number;
}

/**
 * Checks a log against the anchors taken of it: at each, its chains had reached the anchored
 * positions with the anchored hashes. A chain that now ends before a position it had reached lost
 * its newest rows (cut, or an older copy put back); a different hash there means the history up
 * to it was rewritten. A position a prune cut away is not held any more: the prune's own
 * checkpoint, signed, answers for it.
 */
export function checkAnchors(
  anchors: readonly Anchor[],
  seals: ChainPositions,
  logins: ChainPositions,
  findings: Finding[],
  node: { node?: string },
): void {
  for (const a of anchors) {
    const when = new Date(a.atUs / 1000).toISOString();
    check('seal', a.sealSeq, a.sealHash, seals, when, findings, node);
    check('login attempt', a.loginSeq, a.loginHash, logins, when, findings, node);
  }
}

function check(
  what: 'seal' | 'login attempt',
  seq: number,
  hash: string,
  chain: ChainPositions,
  when: string,
  findings: Finding[],
  node: { node?: string },
): void {
  if (seq === 0) return;
  const where = `anchor of ${when}`;
  if (seq > chain.lastSeq) {
    findings.push({
      kind: 'deleted',
      where,
      detail: `the log had reached ${what} ${seq} then, and now ends at ${chain.lastSeq}: its newest rows were removed, or an older copy put back`,
      ...node,
    });
    return;
  }
  const held = seq === chain.startSeq ? chain.startHash : chain.hashAt.get(seq);
  // Below the start a prune cut it away; a gap inside the chain is the chain check's finding.
  if (held === undefined) return;
  if (held !== hash) {
    findings.push({
      kind: 'edited',
      where,
      detail: `${what} ${seq} is not the one anchored then: the history up to it was rewritten`,
      ...node,
    });
  }
}

/** The heads a walk of both chains ends at: what an anchor of the log records. */
export function headsOf(seals: ChainPositions, logins: ChainPositions): ChainHeads {
  return {
    sealSeq: seals.lastSeq,
    sealHash: seals.lastSeq === seals.startSeq ? seals.startHash : (seals.hashAt.get(seals.lastSeq) ?? seals.startHash),
    loginSeq: logins.lastSeq,
    loginHash: logins.lastSeq === logins.startSeq ? logins.startHash : (logins.hashAt.get(logins.lastSeq) ?? logins.startHash),
  };
}
