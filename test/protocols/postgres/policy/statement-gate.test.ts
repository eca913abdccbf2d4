import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AnalysisContext } from '../../../../protocols/postgres/policy/analysis-context.js';
import { StatementGate, type GateEvents } from '../../../../protocols/postgres/policy/statement-gate.js';
import { FrameStream } from '../../../../protocols/postgres/wire/frame-stream.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { parseScope } from '../../../../src/config/scope.js';
import { Bytes, splitsOf } from '../../../support/byte-builder.js';
import { analysisContext } from '../../../support/sql-analysis.js';

const q = (sql: string): Buffer => new Bytes().cstring(sql).frame('Q');
const p = (sql: string, name = ''): Buffer => new Bytes().cstring(name).cstring(sql).int16(0).frame('P');
const b = new Bytes().cstring('').cstring('').int16(0).int16(0).int16(0).frame('B');
const e = new Bytes().cstring('').int32(0).frame('E');
const s = new Bytes().frame('S');
const ready = new Bytes().raw(Buffer.from('I')).frame('Z');
const rowDescription = new Bytes().int16(1).cstring('?column?').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).frame('T');
const dataRow = new Bytes().int16(1).int32(1).raw(Buffer.from('1')).frame('D');
const complete = new Bytes().cstring('SELECT 1').frame('C');
const parameterStatus = (name: string, value: string): Buffer => new Bytes().cstring(name).cstring(value).frame('S');
/** An ErrorResponse as the server sends it (it always names its source file and routine). */
const serverError = (sqlstate: string, message: string): Buffer =>
  new Bytes()
    .raw(Buffer.from('S'))
    .cstring('ERROR')
    .raw(Buffer.from('V'))
    .cstring('ERROR')
    .raw(Buffer.from('C'))
    .cstring(sqlstate)
    .raw(Buffer.from('M'))
    .cstring(message)
    .raw(Buffer.from('R'))
    .cstring('scanner_yyerror')
    .raw(Buffer.from([0]))
    .frame('E');
/** The gateway's own ErrorResponse. */
const gatewayError = (sqlstate: string, message: string, position?: number): Buffer => {
  const body = new Bytes()
    .raw(Buffer.from('S'))
    .cstring('ERROR')
    .raw(Buffer.from('V'))
    .cstring('ERROR')
    .raw(Buffer.from('C'))
    .cstring(sqlstate)
    .raw(Buffer.from('M'))
    .cstring(message);
  if (position !== undefined) body.raw(Buffer.from('P')).cstring(String(position));
  return body.raw(Buffer.from([0])).frame('E');
};

// The client: an allowed query, a denied one, then an extended batch whose Parse does not parse.
const fromClient = Buffer.concat([q('SELECT 1'), q('SELECT * FROM secrets'), p('SELECT 1 FROM WHERE'), b, e, s]);
const toServer = Buffer.concat([q('SELECT 1'), q('idgate_denied'), p('idgate_denied'), b, e, s]);
// The server: the query's result, then its syntax errors for the two placeholders (in German: the text is not read).
const fromServer = Buffer.concat([
  rowDescription,
  dataRow,
  complete,
  ready,
  serverError('42601', 'Syntaxfehler bei »idgate_denied«'),
  ready,
  serverError('42601', 'Syntaxfehler bei »idgate_denied«'),
  ready,
]);
const toClient = Buffer.concat([
  rowDescription,
  dataRow,
  complete,
  ready,
  gatewayError('42501', 'reading public.secrets is not allowed by scope "read:records"'),
  ready,
  gatewayError('42601', 'syntax error at or near "WHERE"', 15),
  ready,
]);

/** The gate in the two frame streams of a session, alone in each. */
interface GateOnBytes {
  fromClient(chunk: Buffer): Buffer[];
  fromServer(chunk: Buffer): Buffer[];
}

function onBytes(gate: StatementGate): GateOnBytes {
  const up = new FrameStream([gate.clientStage]);
  const down = new FrameStream([gate.serverStage]);
  const list = (r: Buffer | readonly Buffer[]): Buffer[] => (Buffer.isBuffer(r) ? [r] : [...r]);
  return { fromClient: (chunk) => list(up.push(chunk)), fromServer: (chunk) => list(down.push(chunk)) };
}

describe('StatementGate over bytes', () => {
  let context: AnalysisContext;
  before(async () => {
    // As in a session: the gateway set application_name at login.
    context = { ...(await analysisContext()), managedSettings: new Set(['application_name']) };
  });

  /** A gate under `scope` whose events do nothing but those given. */
  const gateWith = (scope: string, events: Partial<GateEvents> = {}): GateOnBytes =>
    onBytes(
      new StatementGate(parseScope(scope), context, {
        pinnedApplicationName: (asked) => asked,
        denied: () => undefined,
        approvalNeeded: () => ({ kind: 'too-many', limit: 0 }),
        lexicalStateChanged: () => undefined,
        ...events,
      }),
    );
  const gate = (denied: string[] = []): GateOnBytes =>
    gateWith('read:records', { pinnedApplicationName: (asked) => `Agent | ${asked}`, denied: (sql) => void denied.push(sql) });

  it('forwards what is allowed byte for byte, a placeholder for what is not, and answers each with its own error, however both streams are cut', () => {
    for (const clientSplit of [[fromClient], ...splitsOf(fromClient)]) {
      const g = gate();
      assert.deepEqual(Buffer.concat(clientSplit.flatMap((chunk) => g.fromClient(chunk))), toServer);
    }
    for (const serverSplit of [[fromServer], ...splitsOf(fromServer)]) {
      const denied: string[] = [];
      const g = gate(denied);
      g.fromClient(fromClient);
      assert.deepEqual(Buffer.concat(serverSplit.flatMap((chunk) => g.fromServer(chunk))), toClient);
      assert.deepEqual(denied, ['SELECT * FROM secrets', 'SELECT 1 FROM WHERE']);
    }
  });

  it('keeps the statement name of a refused Parse, so a later Bind to it fails as it would', () => {
    const g = gate();
    assert.deepEqual(Buffer.concat(g.fromClient(p('SELECT * FROM secrets', 's1'))), p('idgate_denied', 's1'));
  });

  it('sends a lone SET application_name upstream as its own SET with the agent first, in a Query or a named Parse', () => {
    const g = gate();
    assert.deepEqual(
      Buffer.concat(g.fromClient(q("SET application_name = 'PostgreSQL JDBC Driver'"))),
      q("SET application_name = 'Agent | PostgreSQL JDBC Driver'"),
    );
    assert.deepEqual(
      Buffer.concat(g.fromClient(q("set local application_name to 'it''s'"))),
      q("SET LOCAL application_name = 'Agent | it''s'"),
    );
    assert.deepEqual(
      Buffer.concat(g.fromClient(p("SET SESSION application_name = 'Tool'", 's2'))),
      p("SET application_name = 'Agent | Tool'", 's2'),
    );
    // Not alone, not a constant, not this setting: judged as before (the managed setting is refused).
    for (const sql of ["SET application_name = 'x'; SELECT 1", "SELECT set_config('application_name', 'x', false)"]) {
      assert.deepEqual(Buffer.concat(g.fromClient(q(sql))), q('idgate_denied'), sql);
    }
    assert.deepEqual(Buffer.concat(g.fromClient(q('RESET application_name'))), q('RESET application_name'));
  });

  it('refuses a Query longer than it analyses without holding it, and drops its bytes', () => {
    const g = gate();
    const huge = q(`SELECT '${'x'.repeat(2 << 20)}'`);
    // Cut inside the header and inside the body: the refusal goes out at the header, the body is dropped as it comes.
    const out = Buffer.concat([huge.subarray(0, 3), huge.subarray(3, 1000), huge.subarray(1000)].flatMap((chunk) => g.fromClient(chunk)));
    assert.deepEqual(out, q('idgate_denied'));
    assert.deepEqual(Buffer.concat(g.fromClient(q('SELECT 1'))), q('SELECT 1'), 'the next frame is read where the dropped one ended');
  });

  it('refuses bytes that are not UTF-8 with 22021', () => {
    const denials: string[] = [];
    const g = gateWith('read', { denied: (_sql, d) => void denials.push(d.sqlstate) });
    g.fromClient(new Bytes().raw(Buffer.from([0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x27, 0x95, 0x5c, 0x27, 0])).frame('Q'));
    assert.deepEqual(denials, ['22021']);
  });

  it('takes no approval once the server reports a setting that changes how statements read, whatever changed it', () => {
    const asked: string[] = [];
    const g = gateWith('read write:records approve:delete', {
      approvalNeeded: (sql) => {
        asked.push(sql);
        return { kind: 'too-many', limit: 0 };
      },
    });
    const del = q('DELETE FROM records WHERE id = 1');
    g.fromClient(del);
    assert.deepEqual(asked, ['DELETE FROM records WHERE id = 1'], 'asked for while the session reads as at login');
    // A label changes nothing a statement reads.
    g.fromServer(parameterStatus('application_name', 'other'));
    g.fromClient(del);
    assert.equal(asked.length, 2);
    // The server says TimeZone changed (no statement the gate saw set it): refused from now on, never asked for.
    g.fromServer(parameterStatus('TimeZone', 'Asia/Tokyo'));
    assert.deepEqual(Buffer.concat(g.fromClient(del)), q('idgate_denied'));
    assert.equal(asked.length, 2);
  });

  it('stops judging anything as allowed once the server reports an unforeseen lexical setting', () => {
    const problems: string[] = [];
    const g = gateWith('read', { lexicalStateChanged: (problem) => void problems.push(problem) });
    g.fromServer(parameterStatus('standard_conforming_strings', 'off'));
    assert.equal(problems.length, 1);
    assert.deepEqual(Buffer.concat(g.fromClient(q('SELECT 1'))), q('idgate_denied'));
  });

  it('ends the session on malformed input or replies that answer nothing, never guesses', () => {
    assert.throws(() => gate().fromClient(Buffer.from([0x51, 0, 0, 0, 3])), ProtocolError);
    assert.throws(() => gate().fromServer(complete), ProtocolError);
  });
});
