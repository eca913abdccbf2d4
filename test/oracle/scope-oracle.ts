import { covers, parseScope, type Scope } from '../../src/config/scope.js';
import { Bytes } from '../support/byte-builder.js';
import { CONNECTION, type Harness } from '../support/harness.js';
import { RawClient, type RawFrame } from '../support/raw-client.js';
import type { OracleCase } from './corpus.js';
import { directSession, type Canaries } from './oracle-database.js';

/** simple: one Query at a time; extended: Parse/Bind/Execute/Sync written at once; pipelined: every Query of a case written at once. */
export type Mode = 'simple' | 'extended' | 'pipelined';

/** A scope under test and the app role its identity-map entry admits. */
export interface OracleScope {
  readonly role: string;
  readonly scope: string;
}

export interface Finding {
  readonly caseId: number;
  readonly origin: string;
  readonly scope: string;
  readonly mode: Mode;
  readonly problem: string;
  /** The case's messages, bytes shown with every non-printable one escaped. */
  readonly bytes: readonly string[];
}

export interface OracleReport {
  readonly cases: number;
  /** Case × scope × mode runs through the gateway. */
  readonly runs: number;
  /** Runs in which the gateway forwarded at least one statement. */
  readonly forwarded: number;
  /** Distinct forwarded sequences run straight against the server. */
  readonly directRuns: number;
  readonly findings: Finding[];
}

/** What a session sent and got back for one message. */
interface MessageResult {
  readonly denied: boolean;
  readonly frames: RawFrame[];
}

/** Tables, functions and catalogs the server says one transaction touched. */
interface Touched {
  readonly reads: string[];
  readonly writes: string[];
  readonly functions: string[];
  /** Tables whose row count the case changed (TRUNCATE writes no tuple counters), when its transaction was still usable. */
  readonly emptied: string[];
  readonly escaped: boolean;
}

const PLACEHOLDER = 'idgate_denied';
/** The oracle's tables, whose row counts are compared with the baseline after each case (what TRUNCATE … CASCADE reaches). */
const COUNTED = ['public.records', 'public.other', 'public.secrets', 'public.Records', 'public.Secrets', 'public.record_notes'];
/** The table whose foreign key to records the server checks by itself; its rows are still counted. */
const FOREIGN_KEY_CHECKED = 'public.record_notes';
const COUNT_SQL = `SELECT ${COUNTED.map((t) => `(SELECT count(*) FROM public."${t.slice(7)}")::text`).join(', ')}`;
const TOUCHED_SQL = `SELECT 't', schemaname || '.' || relname, (seq_scan + coalesce(idx_scan, 0))::text, (n_tup_ins + n_tup_upd + n_tup_del)::text
  FROM pg_stat_xact_user_tables
  UNION ALL SELECT 'f', schemaname || '.' || funcname, calls::text, '0' FROM pg_stat_xact_user_functions`;

const query = (sql: Buffer | string): Buffer =>
  new Bytes().raw(Buffer.concat([Buffer.isBuffer(sql) ? sql : Buffer.from(sql), Buffer.from([0])])).frame('Q');
const extended = (sql: Buffer | string): Buffer =>
  Buffer.concat([
    new Bytes()
      .cstring('')
      .raw(Buffer.concat([Buffer.isBuffer(sql) ? sql : Buffer.from(sql), Buffer.from([0])]))
      .int16(0)
      .frame('P'),
    new Bytes().cstring('').cstring('').int16(0).int16(0).int16(0).frame('B'),
    new Bytes().cstring('').int32(0).frame('E'),
    new Bytes().frame('S'),
  ]);
const COPY_FAIL = new Bytes().cstring('the oracle sends no COPY data').frame('f');
const SYNC = new Bytes().frame('S');

/** An ErrorResponse the gateway made itself: Postgres always names the routine that raised an error (field R), the gateway never does. */
export function isGatewayError(frame: RawFrame): boolean {
  if (frame.code !== 'E') return false;
  for (let p = 0; p < frame.body.length && frame.body[p] !== 0; p = frame.body.indexOf(0, p + 1) + 1) {
    if (frame.body[p] === 0x52) return false;
  }
  return true;
}

/** Sends one message and reads to its ReadyForQuery, failing any COPY FROM STDIN it starts. */
export async function exchange(c: RawClient, message: Buffer | string, mode: Mode): Promise<RawFrame[]> {
  c.write(mode === 'extended' ? extended(message) : query(message));
  return readyFrames(c, mode);
}

/** Writes every message at once, then reads each one's replies to its ReadyForQuery (cases without COPY FROM STDIN only). */
async function pipeline(c: RawClient, messages: readonly (Buffer | string)[]): Promise<RawFrame[][]> {
  c.write(Buffer.concat(messages.map((m) => query(m))));
  const replies: RawFrame[][] = [];
  for (let i = 0; i < messages.length; i++) replies.push(await readyFrames(c, 'pipelined'));
  return replies;
}

async function readyFrames(c: RawClient, mode: Mode): Promise<RawFrame[]> {
  const frames: RawFrame[] = [];
  for (;;) {
    const f = await c.readFrame(15_000);
    frames.push(f);
    // The Sync sent with an extended COPY is swallowed by the copy: after CopyFail, another one ends the batch.
    if (f.code === 'G') c.write(mode === 'extended' ? Buffer.concat([COPY_FAIL, SYNC]) : COPY_FAIL);
    if (f.code === 'Z') return frames;
  }
}

function printable(bytes: Buffer): string {
  return [...bytes]
    .map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
    .join('');
}

/**
 * The differential scope oracle. Each case runs through the real gateway under each scope (inside
 * a transaction that is rolled back); whatever the gateway forwarded is then run straight against
 * the same server, as the gateway's upstream role with the settings the gateway pins, inside a
 * transaction where the server itself reports what it touched (pg_stat_xact_user_tables and
 * pg_stat_xact_user_functions with track_functions = all). A forwarded statement that read or wrote
 * a table outside its scope or called user-defined code is a finding. Catalogs are read by the
 * planner and privilege checks for every statement, so their side channels are checked end to end
 * instead: a canary — a value only `secrets` (and so its pg_stats row) or another agent's
 * statement (pg_stat_activity) holds — in what the gateway returned is a finding.
 */
export async function runScopeOracle(
  h: Harness,
  corpus: readonly OracleCase[],
  scopes: readonly OracleScope[],
  canaries: Canaries,
  modes: readonly Mode[] = ['simple', 'extended', 'pipelined'],
): Promise<OracleReport> {
  const findings: Finding[] = [];
  const direct = new Map<string, Touched>();
  let runs = 0;
  let forwarded = 0;
  let directClient = await directSession(h);
  const baseline = await baselineCounts(directClient);
  for (const { role, scope: scopeText } of scopes) {
    const scope = parseScope(scopeText);
    for (const mode of modes) {
      let gateway = await gatewaySession(h, role);
      for (const c of corpus) {
        if (!runsIn(mode, c)) continue;
        runs += 1;
        const finding = (problem: string): void =>
          void findings.push({ caseId: c.id, origin: c.origin, scope: scopeText, mode, problem, bytes: c.messages.map(printable) });
        let results: MessageResult[];
        try {
          results = await throughGateway(gateway, c, mode);
        } catch (e) {
          finding(`the gateway session failed: ${(e as Error).message}`);
          gateway.close();
          gateway = await gatewaySession(h, role);
          continue;
        }
        if (results.every((r) => r.denied)) continue;
        forwarded += 1;
        const key = `${mode}\u0000${c.messages.map((m, i) => (results[i]?.denied ? PLACEHOLDER : m.toString('latin1'))).join('\u0001')}`;
        let touched = direct.get(key);
        if (touched === undefined) {
          try {
            touched = await straightToServer(directClient, c, results, mode, baseline);
          } catch (e) {
            finding(`the direct run failed: ${(e as Error).message}`);
            directClient.close();
            directClient = await directSession(h);
            continue;
          }
          direct.set(key, touched);
        }
        for (const problem of judge(scope, touched, results, canaries)) finding(problem);
      }
      gateway.close();
    }
  }
  directClient.close();
  return { cases: corpus.length, runs, forwarded, directRuns: direct.size, findings };
}

/** Extended mode takes one statement per case; pipelining is for cases of several messages, none of them a COPY FROM STDIN. */
function runsIn(mode: Mode, c: OracleCase): boolean {
  if (mode === 'extended') return c.messages.length === 1;
  if (mode === 'pipelined') return c.messages.length > 1 && !c.messages.some((m) => /stdin/i.test(m.toString('latin1')));
  return true;
}

export async function gatewaySession(h: Harness, role: string): Promise<RawClient> {
  const c = await RawClient.connect(h.port);
  await c.startTls();
  const login = await c.login(await h.token({ groups: [], roles: [role] }), {
    user: 'scope-oracle',
    database: CONNECTION,
    statement_timeout: '5000',
    lock_timeout: '2000',
  });
  if (login.at(-1)?.code !== 'Z') throw new Error(`the oracle could not log in as ${role}`);
  return c;
}

async function throughGateway(gateway: RawClient, c: OracleCase, mode: Mode): Promise<MessageResult[]> {
  await exchange(gateway, 'BEGIN', 'simple');
  const replies = mode === 'pipelined' ? await pipeline(gateway, c.messages) : [];
  const results: MessageResult[] = [];
  for (const [i, message] of c.messages.entries()) {
    const frames = replies[i] ?? (await exchange(gateway, message, mode));
    results.push({ denied: frames.some(isGatewayError), frames });
  }
  // The case is over: its cleanup goes in one round trip (it is not what the oracle judges).
  await pipeline(gateway, ['ROLLBACK', 'DEALLOCATE ALL']);
  return results;
}

/**
 * Runs what the gateway forwarded (a failing placeholder where it refused) and asks the server
 * what it touched. The counters are read before and after inside one transaction block, where the
 * server never flushes them: since PostgreSQL 15 the pg_stat_xact views also hold what earlier,
 * not yet flushed transactions counted, so only the difference is this case's.
 */
async function straightToServer(
  client: RawClient,
  c: OracleCase,
  results: readonly MessageResult[],
  mode: Mode,
  baseline: readonly string[],
): Promise<Touched> {
  // What the oracle sends around the case is pipelined: one round trip, not one per statement.
  const [, countedBefore] = await pipeline(client, ['BEGIN; SAVEPOINT oracle', TOUCHED_SQL]);
  const before = counters(countedBefore ?? []);
  let escaped = false;
  let usable = true;
  const sent = c.messages.map((message, i) => (results[i]?.denied ? PLACEHOLDER : message));
  const replies = mode === 'pipelined' ? await pipeline(client, sent) : [];
  for (const [i, message] of sent.entries()) {
    const frames = replies[i] ?? (await exchange(client, message, mode));
    const status = frames.at(-1)?.body[0];
    if (status === 0x49) escaped = true; // 'I': the transaction the oracle opened is gone
    usable = status === 0x54; // 'T': still in the transaction, not failed
  }
  let after: Map<string, [number, number]>;
  let emptied: string[] = [];
  if (usable) {
    // Counters first: counting rows scans the tables, which must not count as the case's reads.
    const [countedAfter, rowCounts] = await pipeline(client, [
      TOUCHED_SQL,
      COUNT_SQL,
      'ROLLBACK TO SAVEPOINT oracle',
      'ROLLBACK',
      'DISCARD ALL',
    ]);
    after = counters(countedAfter ?? []);
    const counts = columns((rowCounts ?? []).find((f) => f.code === 'D') ?? { code: 'D', body: Buffer.alloc(2) });
    emptied = COUNTED.filter((_, i) => counts[i] !== undefined && counts[i] !== baseline[i]);
  } else {
    const [, countedAfter] = await pipeline(client, ['ROLLBACK TO SAVEPOINT oracle', TOUCHED_SQL, 'ROLLBACK', 'DISCARD ALL']);
    after = counters(countedAfter ?? []);
  }
  const grown = (kind: string, index: 0 | 1): string[] =>
    [...after]
      .filter(([key, values]) => key.startsWith(`${kind}:`) && (values[index] ?? 0) > (before.get(key)?.[index] ?? 0))
      .map(([key]) => key.slice(2));
  return { reads: grown('t', 0), writes: grown('t', 1), functions: grown('f', 0), emptied, escaped };
}

/** The row counts of the counted tables as the oracle's fixture leaves them. */
async function baselineCounts(client: RawClient): Promise<string[]> {
  const frames = await exchange(client, COUNT_SQL, 'simple');
  const row = frames.find((f) => f.code === 'D');
  if (row === undefined) throw new Error('the oracle could not count its tables');
  return columns(row);
}

/** `kind:name` → [scans or calls, rows written], from the rows of TOUCHED_SQL. */
function counters(frames: readonly RawFrame[]): Map<string, [number, number]> {
  return new Map(
    frames
      .filter((f) => f.code === 'D')
      .map(columns)
      .map((r): [string, [number, number]] => [`${r[0] ?? ''}:${r[1] ?? ''}`, [Number(r[2]), Number(r[3])]]),
  );
}

function columns(row: RawFrame): string[] {
  const out: string[] = [];
  let p = 2;
  for (let i = 0; i < row.body.readInt16BE(0); i++) {
    const length = row.body.readInt32BE(p);
    p += 4;
    out.push(length < 0 ? '' : row.body.toString('utf8', p, p + length));
    p += Math.max(length, 0);
  }
  return out;
}

function tableOf(qualified: string): { schema: string; table: string } {
  const dot = qualified.indexOf('.');
  return { schema: qualified.slice(0, dot), table: qualified.slice(dot + 1) };
}

function judge(scope: Scope, touched: Touched, results: readonly MessageResult[], canaries: Canaries): string[] {
  const problems: string[] = [];
  for (const t of touched.reads) {
    // record_notes references records: deleting or updating a record makes the server's own foreign-key check read it (outside the gateway's reach, docs/scopes.md).
    if (t === FOREIGN_KEY_CHECKED) continue;
    if (!covers(scope.read, tableOf(t)) && !covers(scope.write, tableOf(t))) problems.push(`read ${t}`);
  }
  for (const t of touched.writes) if (!covers(scope.write, tableOf(t))) problems.push(`wrote ${t}`);
  for (const f of touched.functions) problems.push(`called the user-defined function ${f}`);
  for (const t of touched.emptied) if (!covers(scope.write, tableOf(t))) problems.push(`changed the rows of ${t}`);
  if (touched.escaped) problems.push('ended the transaction the oracle opened');
  const returned = Buffer.concat(results.flatMap((r) => r.frames.map((f) => f.body))).toString('latin1');
  const readsSecrets = covers(scope.read, { schema: 'public', table: 'secrets' });
  for (const [canary, allowed] of [
    [canaries.secret, readsSecrets],
    [canaries.activity, false],
  ] as const) {
    const forms = [canary, canary.toLowerCase(), Buffer.from(canary).toString('hex'), Buffer.from(canary).toString('base64').slice(0, 16)];
    if (!allowed && forms.some((form) => returned.includes(form))) problems.push(`returned the canary ${canary}`);
  }
  return problems;
}
