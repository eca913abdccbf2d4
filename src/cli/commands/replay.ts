import type { CommandModule } from 'yargs';
import { compareOutcomes } from '../../audit/compare-outcomes.js';
import { isSameDatabase, parseTargetUrl, redact } from '../replay-target.js';
import { AuditReader, type SessionRow } from '../../audit/audit-reader.js';
import type { RecordedEvent, TranscriptEntry } from '../../audit/transcript.js';
import { table } from '../format.js';
import { entryText, headerText } from '../transcript-text.js';
import { dbOptions, openAudit } from '../options/db-option.js';
import { transcriptOf } from '../session-transcript.js';
import { UsageError } from '../../idgate-error.js';
import type { WireProtocol } from '../../protocol.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';
import { trustedKeyOption } from '../log-reports.js';
import { refuseUnverified } from '../replay-verification.js';

interface ReplayArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly session: string;
  readonly speed: number;
  readonly wait: boolean;
  readonly execute: boolean;
  readonly target?: string | undefined;
  readonly 'dry-run': boolean;
  readonly 'yes-i-mean-it': boolean;
  readonly 'trusted-key'?: readonly string[] | undefined;
  readonly unverified: boolean;
}

export function replayCommand(protocol: WireProtocol): CommandModule<object, ReplayArgs> {
  return {
    ...COMMAND_SUMMARIES.replay,
    builder: (y) =>
      y
        .positional('session', { type: 'string', demandOption: true, describe: 'session id (or a unique prefix)' })
        .options(dbOptions)
        .option('speed', { type: 'number', default: 1, describe: 'time scale (4 = four times as fast)' })
        .option('wait', { type: 'boolean', default: true, describe: 'keep the original pauses (--no-wait skips them)' })
        .option('execute', { type: 'boolean', default: false, describe: 're-run the statements against --target' })
        .option('target', { type: 'string', describe: 'postgres://user[:password]@host:port/db?sslmode=… (password also from PGPASSWORD)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'with --execute: print what would run, run nothing' })
        .option('trusted-key', trustedKeyOption)
        .option('unverified', {
          type: 'boolean',
          default: false,
          describe: 'with --execute: replay a session whose log does not verify (it is verified first)',
        })
        .option('yes-i-mean-it', {
          type: 'boolean',
          default: false,
          describe: 'allow --execute against the very database the session ran on',
        })
        .check((a) => {
          if (!(a.speed > 0)) throw new UsageError('bad-argument', '--speed must be above 0');
          if (a.execute && a.target === undefined && !a['dry-run']) throw new UsageError('bad-argument', '--execute needs --target');
          return true;
        }),
    handler: async (args) => {
      const { reader, close } = await openAudit(args, { kind: 'session', idPrefix: args.session });
      try {
        const session = reader.session(args.session);
        if (session === undefined) throw new UsageError('no-such-session', `no session ${args.session} in the audit database`);
        const original = transcriptOf(protocol, reader, session);
        if (!args.execute) await play(session, original, args);
        else if (args['dry-run']) dryRun(session, original);
        else process.exitCode = await execute(protocol, reader, session, original, args);
      } finally {
        close();
      }
    },
  };
}

/** The terminal player: the transcript at the recorded pace. */
async function play(session: SessionRow, entries: TranscriptEntry[], args: ReplayArgs): Promise<void> {
  out(`${headerText(session)}\n\n`);
  const started = Date.now();
  for (const e of entries) {
    if (args.wait) await sleep(started + e.offsetUs / 1000 / args.speed - Date.now());
    out(`${entryText(e)}\n`);
  }
}

function dryRun(session: SessionRow, entries: TranscriptEntry[]): void {
  out(`-- dry run: would replay session ${session.id} (${session.statements} statements), in order, on one connection\n`);
  for (const e of entries) if (e.type === 'statement') out(`${entryText(e)}\n`);
}

async function execute(
  protocol: WireProtocol,
  reader: AuditReader,
  session: SessionRow,
  original: TranscriptEntry[],
  args: ReplayArgs,
): Promise<number> {
  const target = parseTargetUrl(args.target ?? '');
  if (isSameDatabase(target, session.upstream) && !args['yes-i-mean-it']) {
    throw new UsageError(
      'refused',
      `refusing to replay against ${session.upstream}, the database the session ran on (use a copy, or --yes-i-mean-it)`,
    );
  }
  if (!args.unverified) await refuseUnverified(args, session.id);
  err(`replaying session ${session.id} against ${redact(args.target ?? '')}…\n`);
  const run = await protocol.replay(reader.events(session.id), target, { speed: args.speed, noWait: !args.wait });
  const clientEvents = [...protocol.expandEvents(reader.events(session.id))].filter((e) => e.direction === 'client');
  const replayed = protocol.buildTranscript(concat(clientEvents, run.serverEvents), session.started_at_us);
  const rows = compareOutcomes(original, replayed);
  out(
    `${table(
      ['#', 'statement', 'original', 'replayed', ''],
      rows.map((r) => [String(r.n), oneLine(r.sql), r.original, r.replayed, r.same ? 'same' : 'DIFFERENT']),
    )}\n`,
  );
  for (const n of run.notRecorded) {
    out(
      `note: ${n.bytes} bytes of ${n.code === 'd' ? 'COPY data' : `message ${n.code}`} were not recorded (record: full keeps them) and were not sent\n`,
    );
  }
  const differing = rows.filter((r) => !r.same).length;
  out(
    `${rows.length - differing} of ${rows.length} statements replayed with the same outcome${run.complete ? '' : '; the target did not answer everything'}\n`,
  );
  return differing === 0 && run.complete ? 0 : 1;
}

function* concat(a: Iterable<RecordedEvent>, b: Iterable<RecordedEvent>): Generator<RecordedEvent> {
  yield* a;
  yield* b;
}

function oneLine(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
