import type { ApprovalAsker, ApprovalOutcome, ApprovalRegistry, ApprovalRequest } from './approval-registry.js';

/** An outcome, and whether it is news the asking session logs, counts and records (a request made, an approval used). */
export interface OutcomeHere {
  readonly outcome: ApprovalOutcome;
  readonly news: boolean;
}

/**
 * What a statement's lookup in the other workers (`ApprovalFleet.claim`) comes to in this one. An
 * approval taken there is held here, used by the asking session — unless that session ended while
 * it was fetched: then it stands again here, approved, for the next time the statement is sent
 * (a session that cannot run the statement must not use its approval up). A request there is the
 * statement's request here too; nothing found, this process looks again (a session of its own may
 * have asked meanwhile) and else makes the request.
 */
export function outcomeHere(
  registry: ApprovalRegistry,
  found: ApprovalRequest | undefined,
  asker: ApprovalAsker,
  statement: { readonly sql: string; readonly what: string; readonly params: string | undefined },
  sessionOpen: boolean,
): OutcomeHere {
  if (found === undefined) return { outcome: registry.check(asker, statement.sql, statement.what, statement.params), news: true };
  if (found.takenElsewhere === true) {
    const held = registry.adopt(found, asker.sessionId);
    if (sessionOpen) return { outcome: { kind: 'approved', request: held }, news: true };
    registry.giveBack(held.id, asker.sessionId);
    return { outcome: { kind: 'pending', request: held, created: false }, news: false };
  }
  const outcome: ApprovalOutcome =
    found.state === 'pending' ? { kind: 'pending', request: found, created: false } : { kind: 'refused', request: found };
  return { outcome, news: false };
}
