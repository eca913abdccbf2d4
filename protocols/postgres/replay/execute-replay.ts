import { nowMicros } from '../../../src/audit/audit-event.js';
import type { RecordedEvent } from '../../../src/audit/transcript.js';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { ReplayOptions, ReplayRun } from '../../../src/protocol.js';
import { decodeBackendFrame } from '../recording/backend-events.js';
import { DENIED_TOKEN_PREFIX } from '../policy/statement-gate.js';
import { loginUpstream } from '../upstream/login-upstream.js';
import { sendCancel } from '../upstream/send-cancel.js';
import { Backend, Frontend } from '../wire/codes.js';
import { FrameStream } from '../wire/frame-stream.js';
import { SEE, type FrameStage } from '../wire/frame-stage.js';
import { ReplyTracker } from '../wire/reply-tracker.js';
import { decodeParse, decodeQuery, TERMINATE } from '../wire/frontend-messages.js';
import type { ReplayStep } from './client-frames.js';

const OUTCOMES = new Set<number>([
  Backend.CommandComplete,
  Backend.ErrorResponse,
  Backend.NoticeResponse,
  Backend.EmptyQueryResponse,
  Backend.PortalSuspended,
  Backend.ReadyForQuery,
]);
/** Every backend message: the reply tracker follows them all, the outcomes above are also decoded. */
const EVERY_MESSAGE = new Uint8Array(256).fill(1);
/** Client messages each answered by exactly one ReadyForQuery. */
const ENDS_WITH_READY = new Set<number>([Frontend.Query, Frontend.Sync, Frontend.FunctionCall]);

/**
 * Sends a recorded session's client frames again, in order, on one connection to the target,
 * paced like the original (scaled by `speed`), and collects the target's answers.
 */
export async function executeReplay(steps: Iterable<ReplayStep>, target: ConnectionConfig, options: ReplayOptions): Promise<ReplayRun> {
  // The session's own login first: the target reads the statements with the same settings and search path.
  const { parameters, rest } = loginFirst(steps);
  const session = await loginUpstream(target, parameters);
  const { socket } = session;
  const serverEvents: RecordedEvent[] = [];
  const notRecorded: ReplayRun['notRecorded'] = [];
  let readies = 0;
  let expected = 0;
  let wake: (() => void) | undefined;
  // Following the replies is only for naming denials: if the target's answers stop fitting, stop following.
  let tracking = true;
  const tracked = <T>(step: () => T | undefined): T | undefined => {
    if (!tracking) return undefined;
    try {
      return step();
    } catch {
      tracking = false;
      return undefined;
    }
  };
  // A placeholder the gateway sent for a denied statement fails again on the target; its error is
  // found by its place in the reply stream and reported as the denial the client got.
  const replies = new ReplyTracker<string>();
  const denials: string[] = [];
  const onFrame = (code: number, bytes: Buffer, start: number, end: number): void => {
    const decoded = OUTCOMES.has(code) ? decodeBackendFrame(code, bytes.subarray(start, end)) : undefined;
    const denial = tracked(() =>
      replies.received(code, typeof decoded?.data['sqlstate'] === 'string' ? decoded.data['sqlstate'] : undefined),
    );
    if (decoded) {
      const data = code === Backend.ErrorResponse && denial !== undefined ? { ...decoded.data, sqlstate: denial } : decoded.data;
      serverEvents.push({ seq: serverEvents.length + 1, atUs: nowMicros(), direction: 'server', kind: decoded.kind, data });
    }
    if (code === Backend.ReadyForQuery) readies += 1;
    wake?.();
  };
  const answers: FrameStage = { interest: EVERY_MESSAGE, header: () => SEE, see: onFrame };
  const frames = new FrameStream([answers]);
  // An object, not a `let`: the compiler would keep `closed` narrowed to false across the awaits below.
  const link = { closed: false };
  socket.on('close', () => {
    link.closed = true;
    wake?.();
  });
  socket.on('error', () => undefined);
  frames.push(session.leftover);
  session.source.setHandler((chunk) => void frames.push(chunk));
  const startedMs = Date.now();
  let firstUs: number | undefined;
  for (const step of rest) {
    firstUs ??= step.atUs;
    if (!options.noWait) await sleep(startedMs + (step.atUs - firstUs) / 1000 / options.speed - Date.now());
    if (link.closed) break;
    if (step.kind === 'denied') {
      denials.push(step.sqlstate);
    } else if (step.kind === 'frame') {
      if (ENDS_WITH_READY.has(step.code)) expected += 1;
      const denial = isPlaceholder(step.code, step.frame) ? (denials.shift() ?? '42501') : undefined;
      tracked(() => replies.sent(step.code, denial));
      if (!socket.write(step.frame)) await new Promise((resolve) => socket.once('drain', resolve));
    } else if (step.kind === 'cancel') {
      if (session.backendKey) await sendCancel(target, session.backendKey).catch(() => undefined);
    } else if (step.kind === 'not-recorded') {
      notRecorded.push({ code: String.fromCharCode(step.code), bytes: step.bytes });
    }
  }
  const deadline = Date.now() + (options.settleTimeoutMs ?? 30_000);
  while (readies < expected && !link.closed && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 100);
    });
  }
  const complete = readies >= expected;
  socket.end(TERMINATE);
  return { serverEvents, notRecorded, complete };
}

/** The parameters to log in to the target with (the session's own, when its login was recorded), and the steps after the login. */
function loginFirst(steps: Iterable<ReplayStep>): { readonly parameters: Map<string, string>; readonly rest: Iterable<ReplayStep> } {
  const it = steps[Symbol.iterator]();
  const first = it.next();
  const login = !first.done && first.value.kind === 'login' ? first.value : undefined;
  function* rest(): Generator<ReplayStep> {
    if (!first.done && login === undefined) yield first.value;
    for (let n = it.next(); !n.done; n = it.next()) yield n.value;
  }
  return { parameters: replayParameters(login?.parameters ?? []), rest: rest() };
}

/** The recorded login's parameters, named `idgate replay` in the target's pg_stat_activity (the name changes nothing a statement reads). */
function replayParameters(recorded: readonly (readonly [string, string])[]): Map<string, string> {
  const parameters = new Map(recorded.filter(([name]) => name.toLowerCase() !== 'application_name'));
  parameters.set('application_name', 'idgate replay');
  return parameters;
}

/** A Query or Parse of the placeholder the gateway sends upstream in place of a denied statement. */
function isPlaceholder(code: number, frame: Buffer): boolean {
  if (code !== Frontend.Query && code !== Frontend.Parse) return false;
  const sql = code === Frontend.Parse ? decodeParse(frame).sql : decodeQuery(frame);
  // Sessions recorded before 2026-12 numbered their placeholders (idgate_denied_1, …).
  return sql.toString('utf8').startsWith(DENIED_TOKEN_PREFIX);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
