import type { StatementOutcome, TranscriptEntry, TranscriptStatement } from './transcript.js';

export interface OutcomeComparison {
  readonly n: number;
  readonly sql: string;
  readonly original: string;
  readonly replayed: string;
  readonly same: boolean;
}

/** What a statement's outcome comes to for comparison: status, every tag with its row count, the SQLSTATE. */
export function outcomeSummary(o: StatementOutcome | undefined): string {
  if (o === undefined) return 'not run';
  if (o.status === 'error') return `ERROR ${o.sqlstate ?? ''}`;
  if (o.status !== 'ok') return o.status;
  return o.results.map((r) => r.tag).join(', ');
}

/** Statement by statement: the same tag and row count (or SQLSTATE), or what differed. */
export function compareOutcomes(original: readonly TranscriptEntry[], replayed: readonly TranscriptEntry[]): OutcomeComparison[] {
  const statements = (entries: readonly TranscriptEntry[]): TranscriptStatement[] =>
    entries.filter((e): e is TranscriptStatement => e.type === 'statement');
  const after = new Map(statements(replayed).map((s) => [s.n, s]));
  return statements(original).map((s) => {
    const before = outcomeSummary(s.outcome);
    const now = outcomeSummary(after.get(s.n)?.outcome);
    return { n: s.n, sql: s.sql, original: before, replayed: now, same: before === now };
  });
}
