import type { SessionRow } from '../audit/audit-reader.js';
import type { TranscriptEntry, TranscriptStatement } from '../audit/transcript.js';
import { durationText, isoFromUs } from './format.js';
import { labelText } from './identity-text.js';
import { oneLine } from './output.js';

/** The human form of a session header and its statements, shared by show and replay. */
export function headerText(s: SessionRow): string {
  return [
    `session    ${s.id}`,
    `identity   ${oneLine(s.display_name ?? '(no name)')}  oid ${oneLine(s.identity_oid)}  app ${oneLine(s.app_id)}  tenant ${oneLine(s.tenant_id)}`,
    `client     ${oneLine(s.client_address)}${s.client_tls ? ' (TLS)' : ''}, ${labelText(oneLine(s.client_user))} (its own, not verified)`,
    `granted by ${oneLine(s.mapping)} → ${oneLine(s.connection)} (scope ${oneLine(s.scope)}, record ${oneLine(s.record_mode)})`,
    `upstream   ${oneLine(s.upstream)}`,
    ...(s.node_id !== null ? [`node       ${oneLine(s.node_id)}`] : []),
    `started    ${isoFromUs(s.started_at_us)}`,
    `ended      ${s.ended_at_us === null ? '(open)' : `${isoFromUs(s.ended_at_us)} (${oneLine(s.end_reason ?? '')}, ${durationText(s.ended_at_us - s.started_at_us)})`}`,
    `statements ${s.statements}, errors ${s.errors}, bytes ${s.bytes_from_client ?? 0} in / ${s.bytes_to_client ?? 0} out${rowsText(s)}`,
  ].join('\n');
}

/** A session's rows: `, rows 12 sent / 3 written` (nothing when not known). */
function rowsText(s: SessionRow): string {
  if (s.rows_returned === null || s.rows_returned === undefined) return '';
  return `, rows ${s.rows_returned} sent / ${s.rows_affected ?? 0} written`;
}

/** `show`'s last line: how the session ended, at its place on the timeline (so `show … | tail -1` answers "why did it end?"). */
export function endText(s: SessionRow): string {
  if (s.ended_at_us === null) {
    return `${'(open)'.padStart(12)}  -- not ended: the session is live, or its gateway stopped before sealing it`;
  }
  return `${`+${durationText(s.ended_at_us - s.started_at_us)}`.padStart(12)}  -- ended: ${oneLine(s.end_reason ?? 'unknown')}`;
}

export function entryText(e: TranscriptEntry): string {
  const at = `+${durationText(e.offsetUs)}`.padStart(12);
  if (e.type === 'note') return `${at}  -- ${oneLine(e.kind)}${e.detail ? `: ${oneLine(e.detail)}` : ''}`;
  const o = e.outcome;
  const outcome =
    o.status === 'error'
      ? `${o.refusedBy === 'gateway' ? 'REFUSED by idgate' : 'ERROR'} ${oneLine(o.sqlstate ?? '')} ${oneLine(o.message ?? '')}`
      : o.status === 'ok'
        ? oneLine(o.results.map((r) => r.tag).join(', '))
        : o.status.toUpperCase();
  const lines = [`${at}  #${e.n} ${oneLine(e.sql.replace(/\s+/g, ' ').trim())}`];
  if (e.params !== undefined && e.params.length > 0) lines.push(`${' '.repeat(14)}params ${JSON.stringify(e.params)}`);
  if (e.copyBytes !== undefined) lines.push(`${' '.repeat(14)}copy data ${e.copyBytes} bytes`);
  lines.push(`${' '.repeat(14)}→ ${outcome}${e.durationUs !== null ? ` (${durationText(e.durationUs)})` : ''}${deliveredText(e)}`);
  for (const n of e.notices ?? []) lines.push(`${' '.repeat(14)}${oneLine(n)}`);
  return lines.join('\n');
}

/** What left the database for a statement: ` · sent 3 rows, 245 bytes` (`, wrote 1 row` when it wrote any). */
function deliveredText(e: TranscriptStatement): string {
  const d = e.delivered;
  if (d === undefined) return '';
  const rows = (n: number): string => `${n} ${n === 1 ? 'row' : 'rows'}`;
  return ` · sent ${rows(d.returned)}, ${d.bytes} bytes${d.affected > 0 ? `, wrote ${rows(d.affected)}` : ''}`;
}
