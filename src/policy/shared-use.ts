/** The fields of a recorded session that say who used an identity from where, and when. */
export interface SessionUse {
  readonly identity_oid: string;
  readonly client_user: string;
  readonly client_address: string;
  readonly started_at_us: number;
  readonly ended_at_us: number | null;
}

/**
 * Identities used by more than one agent: two sessions of the same identity under different
 * client labels or from different hosts that overlap, or follow each other within `gapUs` — the
 * sign of one identity shared across agents, which breaks "one agent, one identity". An open
 * session counts as lasting until `nowUs`.
 */
export function sharedIdentities(sessions: readonly SessionUse[], gapUs: number, nowUs: number): Set<string> {
  const byIdentity = new Map<string, SessionUse[]>();
  for (const s of sessions) byIdentity.set(s.identity_oid, [...(byIdentity.get(s.identity_oid) ?? []), s]);
  const shared = new Set<string>();
  for (const [identity, uses] of byIdentity) {
    const sorted = [...uses].sort((a, b) => a.started_at_us - b.started_at_us);
    for (let i = 0; i < sorted.length && !shared.has(identity); i++) {
      const a = sorted[i];
      if (a === undefined) continue;
      const reach = (a.ended_at_us ?? nowUs) + gapUs;
      for (let j = i + 1; j < sorted.length; j++) {
        const b = sorted[j];
        if (b === undefined || b.started_at_us > reach) break;
        if (b.client_user !== a.client_user || b.client_address !== a.client_address) {
          shared.add(identity);
          break;
        }
      }
    }
  }
  return shared;
}
