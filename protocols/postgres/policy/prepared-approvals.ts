import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { ApprovalOutcome } from '../../../src/approvals/approval-registry.js';
import { Frontend } from '../wire/codes.js';
import { decodeBind } from '../wire/extended-messages.js';
import { encodeMessage } from '../wire/message-writer.js';
import { verdictFor } from './approval-verdict.js';
import type { Verdict } from './decision-cache.js';

type Denial = Extract<Verdict, { allowed: false }>;

/** Prepared statements one session may hold that need approval at each Bind (beyond it, such a Parse is refused). */
const MAX_GATED = 1000;

/**
 * Approvals through the extended protocol. A Parse of a statement that needs approval goes to the
 * server — preparing runs nothing — and its name is remembered; each Bind of it is judged with its
 * parameters: an approval of exactly that text with exactly those values admits that one Bind
 * (the portal runs once), anything else is replaced by a Bind of a statement that does not exist,
 * so the server fails there and the gateway's IGA01 takes the error's place. SQL's `EXECUTE name`
 * of such a statement is refused: it would run it past every Bind.
 */
export class PreparedApprovals {
  private readonly gated = new Map<string, { readonly sql: string; readonly what: string }>();
  /** Unguessable, so no statement an agent prepared can answer to it. */
  private readonly placeholder = `idgate_denied_${randomBytes(16).toString('hex')}`;

  constructor(private readonly approvalNeeded: (sql: string, what: string, params: string) => ApprovalOutcome) {}

  /** Whether any Bind needs judging. */
  get any(): boolean {
    return this.gated.size > 0;
  }

  /** A Parse under `name` that the scope allowed (`approval` undefined) or allows with approval at each Bind. */
  parsed(name: string, sql: string, approval: string | undefined): Verdict {
    if (approval === undefined) {
      // A Parse of the unnamed statement replaces it (or, failing, leaves none); a named one cannot replace a live name.
      if (name === '') this.gated.delete('');
      return { allowed: true };
    }
    if (!this.gated.has(name) && this.gated.size >= MAX_GATED) {
      return {
        allowed: false,
        sqlstate: '53400',
        message: `${approval} needs approval, and this session prepared ${MAX_GATED} such statements already`,
      };
    }
    this.gated.set(name, { sql, what: approval });
    return { allowed: true };
  }

  /** A text that runs by SQL's EXECUTE a prepared statement that needs approval at its Bind: refused (undefined: none). */
  refuseExecutes(names: readonly string[] | undefined): Denial | undefined {
    const gated = names?.find((n) => this.gated.has(n));
    if (gated === undefined) return undefined;
    const message = `EXECUTE ${gated}: that prepared statement needs approval at each Bind, with its values; EXECUTE would run it past them`;
    return { allowed: false, sqlstate: '0A000', message };
  }

  /** A Bind: undefined when it goes as sent (not gated, or approved); else the refusal and the Bind that goes instead. */
  bind(frame: Buffer): { readonly denial: Denial; readonly sql: string; readonly replacement: Buffer } | undefined {
    const bind = decodeBind(frame);
    const gated = this.gated.get(bind.statement);
    if (gated === undefined) return undefined;
    const params = parametersText(bind.parameterFormats, bind.values);
    const base: Denial = { allowed: false, sqlstate: 'IGA01', message: '', approval: gated.what };
    const verdict = verdictFor(base, gated.what, this.approvalNeeded(gated.sql, gated.what, params));
    if (verdict.allowed) return undefined;
    const replacement = encodeMessage(Frontend.Bind, [
      { cstring: bind.portal },
      { cstring: this.placeholder },
      { int16: 0 },
      { int16: 0 },
      { int16: 0 },
    ]);
    return { denial: verdict, sql: gated.sql, replacement };
  }
}

/** The values as an approver reads them (JSON: text as text, binary or invalid UTF-8 as base64, NULL as null). */
function parametersText(formats: readonly number[], values: readonly (Buffer | null)[]): string {
  return JSON.stringify(
    values.map((v, i) => {
      if (v === null) return null;
      const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
      return !binary && isUtf8(v) ? v.toString('utf8') : { base64: v.toString('base64') };
    }),
  );
}
