/**
 * What a finding says happened: a row changed, added, removed or moved; history begun anew; a row
 * that should be signed is not (`unsigned`), its signature is not the node's (`forged`), or the
 * key it is signed with is not one the operator trusts (`untrusted-key`).
 */
export type TamperKind = 'edited' | 'inserted' | 'deleted' | 'reordered' | 'discontinuity' | 'unsigned' | 'forged' | 'untrusted-key';

export interface Finding {
  readonly kind: TamperKind;
  /** What is affected: `session <id>`, `event <id>#<seq>`, `login attempt #<seq>`. */
  readonly where: string;
  readonly detail: string;
  /** The fleet node that wrote the row where the chain breaks, when the row names one. */
  readonly node?: string;
}
