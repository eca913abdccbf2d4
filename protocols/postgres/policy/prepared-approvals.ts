import { randomBytes } from 'node:crypto';
import type { ApprovalOutcome } from '../../../src/approvals/approval-registry.js';
import { Frontend } from '../wire/codes.js';
import { ByteReader } from '../wire/byte-reader.js';
import { decodeBind } from '../wire/extended-messages.js';
import { encodeMessage } from '../wire/message-writer.js';
import { approvalTakenBy, verdictOf, type ApprovalTaken } from './approval-verdict.js';
import type { Verdict } from './decision-cache.js';
import type { ApprovalWait } from './approval-wait.js';
import { boundValuesText } from './bound-values.js';

type Denial = Extract<Verdict, { allowed: false }>;

/** The tag of a plain Parse of the unnamed statement, told back at its ParseComplete. */
export interface UnnamedParse {
  readonly unnamedParse: number;
}

/** What a Bind does: goes as sent (undefined), takes an approval, or is refused and replaced. */
export type BindJudgement = { readonly denial: Denial; readonly sql: string; readonly replacement: Buffer } | ApprovalTaken | undefined;

/** A prepared statement whose Binds need approval: its text, the types its Parse named, what needs the approval. */
interface GatedStatement {
  readonly sql: string;
  readonly types: readonly number[];
  readonly what: string;
  /** A setting it changes that changes how the session reads statements (reading-settings.ts). */
  readonly changesReading: string | undefined;
  readonly generation: number;
}

/** Prepared statements one session may hold that need approval at each Bind (beyond it, such a Parse is refused). */
const MAX_GATED = 1000;
/**
 * And the memory they may take together: each holds its text (up to 1 MiB) and its parameter types
 * (up to 65,535) until the session ends, so without a bound one agent could make one session hold
 * a gigabyte. Counted generously: two bytes a character, eight a type.
 */
export const MAX_GATED_BYTES = 16 << 20;

/**
 * Approvals through the extended protocol. A Parse of a statement that needs approval goes to the
 * server — preparing runs nothing — and its name is remembered; each Bind of it is judged with its
 * parameters: an approval of exactly that text with exactly those values admits that one Bind
 * (the portal runs once), anything else is replaced by a Bind of a statement that does not exist,
 * so the server fails there and the gateway's IGA01 takes the error's place. SQL's `EXECUTE name`
 * of such a statement is refused: it would run it past every Bind.
 */
export class PreparedApprovals {
  /**
   * By the name's bytes (hex), as the server keys them: two invalid UTF-8 names that decode alike
   * must not share an entry. `generation` orders the unnamed statement's Parses.
   */
  private readonly gated = new Map<string, GatedStatement>();
  /** What the held statements take, as MAX_GATED_BYTES counts it. */
  private gatedBytes = 0;
  private generation = 0;
  /**
   * A plain Parse of the unnamed statement since the last Sync: a Bind of it before the next Sync
   * binds that one — if the server skipped the Parse (an earlier error), it skips the Bind too.
   */
  private unnamedReplaced = false;
  /** Unguessable, so no statement an agent prepared can answer to it. */
  private readonly placeholder = `idgate_denied_${randomBytes(16).toString('hex')}`;

  constructor(
    private readonly approvalNeeded: (sql: string, what: string, params: string) => ApprovalOutcome | Promise<ApprovalOutcome>,
    /** `approvals.wait`: a Bind whose request is pending is held for its answer, as a Query is. */
    private readonly wait?: ApprovalWait,
  ) {}

  /** Whether any Bind needs judging. */
  get any(): boolean {
    return this.gated.size > 0;
  }

  /**
   * A Parse the scope allows outright. Of the unnamed statement, it replaces a held one only if the
   * server parses it — a Parse the server skips after an earlier error in the pipeline leaves the
   * held statement in place — so the gate tags it and calls `confirmed` at its ParseComplete.
   */
  plainParse(name: Buffer): UnnamedParse | undefined {
    if (name.length !== 0 || !this.gated.has('')) return undefined;
    this.unnamedReplaced = true;
    return { unnamedParse: ++this.generation };
  }

  /** The client sent Sync: past it, a Bind of the unnamed statement binds what the server confirmed. */
  synced(): void {
    this.unnamedReplaced = false;
  }

  /** The server parsed the plain unnamed Parse tagged `tag`: a held unnamed statement older than it is gone. */
  confirmed(tag: UnnamedParse): void {
    const held = this.gated.get('');
    if (held !== undefined && held.generation < tag.unnamedParse) this.forget('');
  }

  /**
   * A Parse under `name` that the scope allows with approval (`approval`) at each Bind, with the
   * parameter types it names: they are pinned with the values (bound-values.ts).
   */
  parsed(nameBytes: Buffer, sql: string, approval: string, types: readonly number[], changesReading?: string): Verdict {
    const name = nameBytes.toString('hex');
    if (name === '') this.unnamedReplaced = false;
    const replaced = this.gated.get(name);
    const bytes = sizeOf(sql, types);
    const over =
      replaced === undefined && this.gated.size >= MAX_GATED
        ? `${MAX_GATED} such statements`
        : this.gatedBytes - (replaced === undefined ? 0 : sizeOf(replaced.sql, replaced.types)) + bytes > MAX_GATED_BYTES
          ? `${MAX_GATED_BYTES >> 20} MiB of such statements`
          : undefined;
    if (over !== undefined) {
      return { allowed: false, sqlstate: '53400', message: `${approval} needs approval, and this session prepared ${over} already` };
    }
    this.forget(name);
    this.gated.set(name, { sql, types, what: approval, changesReading, generation: ++this.generation });
    this.gatedBytes += bytes;
    return { allowed: true };
  }

  private forget(name: string): void {
    const held = this.gated.get(name);
    if (held === undefined) return;
    this.gated.delete(name);
    this.gatedBytes -= sizeOf(held.sql, held.types);
  }

  /** A text that runs by SQL's EXECUTE a prepared statement that needs approval at its Bind: refused (undefined: none). */
  refuseExecutes(names: readonly string[] | undefined): Denial | undefined {
    const gated = names?.find((n) => this.gated.has(Buffer.from(n, 'utf8').toString('hex')));
    if (gated === undefined) return undefined;
    const message = `EXECUTE ${gated}: that prepared statement needs approval at each Bind, with its values; EXECUTE would run it past them`;
    return { allowed: false, sqlstate: '0A000', message };
  }

  /**
   * A Bind: undefined when it goes as sent (not gated), the approval it takes, or the refusal and
   * the Bind that goes instead — later, when the approval is looked up elsewhere. `refusal` says
   * why the session can take no approval for `what` now (it is ending, or it changed how it reads
   * statements), if it cannot.
   */
  bind(frame: Buffer, refusal: (what: string) => Denial | undefined): BindJudgement | Promise<BindJudgement> {
    const bind = decodeBind(frame);
    const names = new ByteReader(frame, 5);
    names.cstringBytes(); // the portal
    const name = names.cstringBytes().toString('hex');
    const gated = name === '' && this.unnamedReplaced ? undefined : this.gated.get(name);
    if (gated === undefined) return undefined;
    // Decoded now: the frame lies in a buffer the next read reuses.
    const params = boundValuesText(gated.types, bind.parameterFormats, bind.values);
    const base: Denial = {
      allowed: false,
      sqlstate: 'IGA01',
      message: '',
      approval: gated.what,
      ...(gated.changesReading !== undefined ? { changesReading: gated.changesReading } : {}),
    };
    const refused = refusal(gated.what);
    if (refused !== undefined) return this.refused(refused, bind.portal, gated.sql);
    const verdict =
      this.wait?.judge(base, gated.what, gated.sql, params) ??
      verdictOf(base, gated.what, this.approvalNeeded(gated.sql, gated.what, params));
    // A session that began ending while the approval was looked up runs nothing more (the approval is not used).
    const judged = (v: Verdict): BindJudgement => {
      const refusedNow = refusal(gated.what) ?? (v.allowed ? undefined : v);
      return refusedNow === undefined ? approvalTakenBy(v, true) : this.refused(refusedNow, bind.portal, gated.sql);
    };
    return verdict instanceof Promise ? verdict.then(judged) : judged(verdict);
  }

  /** A Bind of a statement that does not exist goes instead: the server fails there, and the gate answers for it. */
  private refused(denial: Denial, portal: string, sql: string): BindJudgement {
    const replacement = encodeMessage(Frontend.Bind, [
      { cstring: portal },
      { cstring: this.placeholder },
      { int16: 0 },
      { int16: 0 },
      { int16: 0 },
    ]);
    return { denial, sql, replacement };
  }
}

/** A held statement's memory as MAX_GATED_BYTES counts it. */
function sizeOf(sql: string, types: readonly number[]): number {
  return 2 * sql.length + 8 * types.length;
}
