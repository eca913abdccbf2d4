import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AnalysisContext } from '../../../../protocols/postgres/policy/analysis-context.js';
import { StatementGate } from '../../../../protocols/postgres/policy/statement-gate.js';
import { FrameStream } from '../../../../protocols/postgres/wire/frame-stream.js';
import type { ApprovalOutcome, ApprovalRequest } from '../../../../src/approvals/approval-registry.js';
import { parseScope } from '../../../../src/config/scope.js';
import { Bytes, splitsOf } from '../../../support/byte-builder.js';
import { analysisContext } from '../../../support/sql-analysis.js';

const q = (sql: string): Buffer => new Bytes().cstring(sql).frame('Q');
const p = (sql: string, name: string): Buffer => new Bytes().cstring(name).cstring(sql).int16(0).frame('P');
const bind = (name: string, value: string): Buffer =>
  new Bytes().cstring('').cstring(name).int16(0).int16(1).int32(value.length).raw(Buffer.from(value)).int16(0).frame('B');
const s = new Bytes().frame('S');
const DELETE = 'DELETE FROM records WHERE id = 7';

const request: ApprovalRequest = {
  id: '0123456789ab',
  asker: { objectId: 'agent', appId: 'app', displayName: undefined, connection: 'db', entry: 'writers', sessionId: 's1' },
  sql: DELETE,
  fingerprint: 'f'.repeat(32),
  what: 'deleting from public.records',
  requestedAtMs: 0,
  state: 'pending',
  approvals: [],
};

/** A gate whose every approval is looked up elsewhere: each lookup waits until the test answers it. */
function gateAnsweredLater(context: AnalysisContext): {
  stream: FrameStream;
  answer: (outcome: ApprovalOutcome | Error) => void;
  denied: string[];
  asked: string[];
} {
  const lookups: ((outcome: ApprovalOutcome | Error) => void)[] = [];
  const denied: string[] = [];
  const asked: string[] = [];
  const gate = new StatementGate(parseScope('read write:records approve:delete:records'), context, {
    pinnedApplicationName: (a) => a,
    denied: (_sql, d) => void denied.push(`${d.sqlstate} ${d.message}`),
    approvalNeeded: (sql, _what, params) => {
      asked.push(params === undefined ? sql : `${sql} ${params}`);
      return new Promise<ApprovalOutcome>((resolve, reject) => lookups.push((o) => (o instanceof Error ? reject(o) : resolve(o))));
    },
    lexicalStateChanged: () => undefined,
  });
  return { stream: new FrameStream([gate.clientStage]), answer: (o) => lookups.shift()?.(o), denied, asked };
}

/** Feeds the chunks, answers the lookup when the stream stops for it, and returns everything that went upstream. */
async function through(stream: FrameStream, chunks: readonly Buffer[], answer: () => void): Promise<Buffer> {
  const out: Buffer[] = [];
  const take = (r: Buffer | readonly Buffer[]): void => void out.push(...(Buffer.isBuffer(r) ? [r] : r));
  for (const chunk of chunks) take(stream.push(chunk));
  let stops = 0;
  while (stream.isStopped) {
    stops += 1;
    const ready = new Promise<void>((resolve) => stream.whenReady(resolve));
    answer();
    await ready;
    take(stream.resume());
  }
  assert.equal(stops, 1, 'the stream stopped once, at the statement whose approval was looked up');
  return Buffer.concat(out);
}

describe('a statement whose approval is looked up elsewhere (the gateway’s other workers)', () => {
  let context: AnalysisContext;
  before(async () => {
    context = await analysisContext();
  });

  it('holds the Query and what follows it, then sends it as it came once an approval is found, however the input is cut', async () => {
    const input = Buffer.concat([q(DELETE), q('SELECT 1')]);
    for (const split of [[input], ...splitsOf(input)]) {
      const g = gateAnsweredLater(context);
      const sent = await through(g.stream, split, () => g.answer({ kind: 'approved', request }));
      assert.deepEqual(sent, input);
      assert.deepEqual(g.denied, []);
    }
  });

  it('sends the placeholder instead when the request is pending there, refused there, or the lookup fails', async () => {
    for (const outcome of [
      { kind: 'pending', request, created: false } as const,
      { kind: 'refused', request } as const,
      new Error('no answer'),
    ]) {
      const g = gateAnsweredLater(context);
      const sent = await through(g.stream, [Buffer.concat([q(DELETE), q('SELECT 1')])], () => g.answer(outcome));
      assert.deepEqual(sent, Buffer.concat([q('idgate_denied'), q('SELECT 1')]));
      assert.equal(g.denied.length, 1);
      assert.match(g.denied[0] ?? '', outcome instanceof Error ? /could not be found out/ : /request 0123456789ab/);
    }
  });

  it('judges a Bind of a prepared statement needing approval with its values, later: as sent once approved, else a Bind that fails', async () => {
    const parse = p('DELETE FROM records WHERE id = $1', 'del');
    for (const approved of [true, false]) {
      const g = gateAnsweredLater(context);
      const input = Buffer.concat([parse, bind('del', '7'), s]);
      const sent = await through(g.stream, [input], () =>
        g.answer(approved ? { kind: 'approved', request } : { kind: 'pending', request, created: false }),
      );
      assert.deepEqual(g.asked, ['DELETE FROM records WHERE id = $1 ["7"]'], 'asked with the statement and its values');
      if (approved) assert.deepEqual(sent, input);
      else {
        assert.deepEqual(sent.subarray(0, parse.length), parse, 'preparing runs nothing: the Parse goes on');
        assert.ok(sent.subarray(parse.length).includes(Buffer.from('idgate_denied_')), 'the Bind names a statement that does not exist');
        assert.deepEqual(sent.subarray(sent.length - s.length), s);
        assert.equal(g.denied.length, 1);
      }
    }
  });

  it('refuses a Bind of a statement needing approval once the session began ending, without taking an approval', () => {
    let asked = 0;
    const denied: string[] = [];
    const gate = new StatementGate(parseScope('read write:records approve:delete:records'), context, {
      pinnedApplicationName: (a) => a,
      denied: (_sql, d) => void denied.push(d.sqlstate),
      approvalNeeded: () => {
        asked += 1;
        return { kind: 'approved', request };
      },
      lexicalStateChanged: () => undefined,
    });
    const up = new FrameStream([gate.clientStage]);
    const down = new FrameStream([gate.serverStage]);
    const parse = p('DELETE FROM records WHERE id = $1', 'del');
    assert.deepEqual(up.push(parse), parse);
    // The server changes how it reads statements: the session is ending.
    down.push(new Bytes().cstring('standard_conforming_strings').cstring('off').frame('S'));
    const sent = Buffer.concat([up.push(bind('del', '7'))].flat());
    assert.ok(sent.includes(Buffer.from('idgate_denied_')), 'a Bind of a statement that does not exist goes instead');
    assert.equal(asked, 0, 'no approval is looked up, none taken');
    assert.deepEqual(denied, ['57P01']);
  });

  it('stops a statement held for its approval when the client cancels: 57014 in its place, the wait stopped, the request kept', async () => {
    // A cancel once the wait is under way, and one that comes before it is (in the same turn).
    for (const cancelAfterMs of [10, undefined]) {
      const denied: string[] = [];
      let waits = 0;
      let stopped = 0;
      const gate = new StatementGate(parseScope('read write:records approve:delete:records'), context, {
        pinnedApplicationName: (a) => a,
        denied: (_sql, d) => void denied.push(`${d.sqlstate} ${d.message}`),
        approvalNeeded: () => ({ kind: 'pending', request, created: true }),
        awaitApproval: () => {
          waits += 1;
          return () => void (stopped += 1);
        },
        lexicalStateChanged: () => undefined,
      });
      const stream = new FrameStream([gate.clientStage]);
      const cancel = (): void => {
        if (cancelAfterMs === undefined) gate.cancelWait();
        else setTimeout(() => gate.cancelWait(), cancelAfterMs);
      };
      const sent = await through(stream, [Buffer.concat([q(DELETE), q('SELECT 1')])], cancel);
      assert.deepEqual(sent, Buffer.concat([q('idgate_denied'), q('SELECT 1')]));
      assert.deepEqual([waits, stopped], cancelAfterMs === undefined ? [0, 0] : [1, 1], 'a wait begun is stopped');
      assert.match(denied[0] ?? '', /^57014 canceling statement due to user request: .*request 0123456789ab is kept/);
      gate.cancelWait(); // nothing held: nothing happens
      assert.equal(stopped, cancelAfterMs === undefined ? 0 : 1);
    }
  });
});
