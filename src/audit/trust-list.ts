/**
 * The node public keys an operator vouches for (`recordings.trusted-nodes`): node id → keys (more
 * than one while a key is rotated). A worker's node id `N:wK` is covered by node N's entry, since
 * the workers of one gateway share its key.
 */
export class TrustList {
  constructor(private readonly entries: ReadonlyMap<string, readonly string[]> = new Map()) {}

  /** The keys trusted for this node, or undefined when the list does not name it. */
  keysFor(nodeId: string | null): readonly string[] | undefined {
    if (nodeId === null) return undefined;
    const exact = this.entries.get(nodeId);
    if (exact !== undefined) return exact;
    const worker = /^(.*):w\d+$/.exec(nodeId);
    return worker?.[1] === undefined ? undefined : this.entries.get(worker[1]);
  }

  get size(): number {
    return this.entries.size;
  }
}
