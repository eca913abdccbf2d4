import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTranscript } from '../../../../protocols/postgres/recording/build-transcript.js';
import { DENIED_TOKEN_PREFIX } from '../../../../protocols/postgres/policy/statement-gate.js';
import type { RecordedEvent, TranscriptStatement } from '../../../../src/audit/transcript.js';

/** Events as the audit log stores them once decoded, written by hand (independent of the recorder). */
function events(list: [direction: string, kind: string, data?: Record<string, unknown>][]): RecordedEvent[] {
  return list.map(([direction, kind, data], i) => ({ seq: i + 1, atUs: 1000 + i * 10, direction, kind, data: data ?? {} }));
}

const statements = (entries: ReturnType<typeof buildTranscript>): TranscriptStatement[] =>
  entries.filter((e): e is TranscriptStatement => e.type === 'statement');

describe('buildTranscript', () => {
  it('reads a simple Query that holds two statements as one statement with both results', () => {
    const out = statements(
      buildTranscript(
        events([
          ['client', 'Query', { sql: 'SELECT 1; SELECT 2' }],
          ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
          ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
          ['server', 'ReadyForQuery'],
        ]),
        1000,
      ),
    );
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]?.outcome, {
      status: 'ok',
      results: [
        { tag: 'SELECT 1', rows: 1 },
        { tag: 'SELECT 1', rows: 1 },
      ],
    });
    assert.equal(out[0]?.durationUs, 20, 'from its first frame to its last outcome');
  });

  it('skips the Executes after an error up to the Sync, as the server does, and matches the rest in order', () => {
    const out = statements(
      buildTranscript(
        events([
          ['client', 'Parse', { statement: '', sql: 'INSERT INTO t VALUES ($1)' }],
          ['client', 'Bind', { statement: '', portal: '', params: ['1'] }],
          ['client', 'Execute', { portal: '' }],
          ['client', 'Bind', { statement: '', portal: '', params: ['2'] }],
          ['client', 'Execute', { portal: '' }],
          ['client', 'Sync'],
          ['client', 'Query', { sql: 'SELECT 3' }],
          ['server', 'ErrorResponse', { sqlstate: '23505', message: 'duplicate key' }],
          ['server', 'ReadyForQuery'],
          ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
          ['server', 'ReadyForQuery'],
        ]),
        1000,
      ),
    );
    assert.deepEqual(
      out.map((s) => [s.sql, s.outcome.status, s.outcome.sqlstate ?? null]),
      [
        ['INSERT INTO t VALUES ($1)', 'error', '23505'],
        ['INSERT INTO t VALUES ($1)', 'skipped', null],
        ['SELECT 3', 'ok', null],
      ],
    );
    assert.deepEqual(out[1]?.params, ['2']);
  });

  it('shows a denied statement as what the agent sent, not the placeholder that went upstream', () => {
    const out = buildTranscript(
      events([
        ['gateway', 'Denied', { sql: 'DROP TABLE records', reason: 'ddl is not allowed', sqlstate: '42501' }],
        ['client', 'Query', { sql: DENIED_TOKEN_PREFIX }],
        ['server', 'ErrorResponse', { sqlstate: '42501', message: 'DROP TABLE (ddl) is not allowed by scope "read"' }],
        ['server', 'ReadyForQuery'],
      ]),
      1000,
    );
    const [statement] = statements(out);
    assert.equal(statement?.sql, 'DROP TABLE records');
    assert.equal(statement?.outcome.sqlstate, '42501');
    assert.equal(statement?.outcome.refusedBy, 'gateway');
  });

  it('calls a refusal the gateway’s only from its own record: not a server error in its words, nor the placeholder sent by a client', () => {
    const gatewayWords = 'DROP TABLE (ddl) is not allowed by scope "read"';
    const out = statements(
      buildTranscript(
        events([
          // Under scope all a procedure commits, then raises the gateway's exact error.
          ['client', 'Query', { sql: 'CALL sneaky()' }],
          ['server', 'ErrorResponse', { sqlstate: '42501', message: gatewayWords }],
          ['server', 'ReadyForQuery'],
          // The client sends the placeholder's text itself: the server's syntax error, nobody's refusal.
          ['client', 'Query', { sql: DENIED_TOKEN_PREFIX }],
          ['server', 'ErrorResponse', { sqlstate: '42601', message: 'syntax error at or near "idgate_denied"' }],
          ['server', 'ReadyForQuery'],
          // A Parse the gateway refused, answered before any Execute.
          ['gateway', 'Denied', { sql: 'DELETE FROM secrets', reason: 'no', sqlstate: '42501' }],
          ['client', 'Parse', { statement: 's1', sql: DENIED_TOKEN_PREFIX }],
          ['client', 'Sync'],
          ['server', 'ErrorResponse', { sqlstate: '42501', message: 'write to secrets is not allowed by scope "read"' }],
          ['server', 'ReadyForQuery'],
        ]),
        1000,
      ),
    );
    assert.deepEqual(
      out.map((s) => [s.sql, s.outcome.sqlstate, s.outcome.refusedBy ?? 'server']),
      [
        ['CALL sneaky()', '42501', 'server'],
        [DENIED_TOKEN_PREFIX, '42601', 'server'],
        ['DELETE FROM secrets', '42501', 'gateway'],
      ],
    );
  });

  it('notes an operator’s terminate and a truncated result where they happened', () => {
    const out = buildTranscript(
      events([
        ['client', 'Query', { sql: 'SELECT * FROM big' }],
        ['gateway', 'RowsCapped', { maxRows: 10 }],
        ['server', 'NoticeResponse', { severity: 'WARNING', message: 'result truncated to 10 rows by the gateway (limits max-rows)' }],
        ['server', 'CommandComplete', { tag: 'SELECT 500', rows: 500 }],
        ['server', 'ReadyForQuery'],
        ['gateway', 'Terminated', { reason: 'admin-terminated', by: 'alice', via: 'bearer-token', from: '127.0.0.1' }],
      ]),
      1000,
    );
    assert.deepEqual(
      out.filter((e) => e.type === 'note').map((e) => (e.type === 'note' ? [e.kind, e.detail] : [])),
      [
        ['RowsCapped', 'result truncated to 10 rows (limits max-rows)'],
        ['Terminated', 'admin-terminated by alice (bearer-token, from 127.0.0.1)'],
      ],
    );
    assert.deepEqual(statements(out)[0]?.notices, ['WARNING: result truncated to 10 rows by the gateway (limits max-rows)']);
  });

  it('gives an error in a pipeline to the statement whose Execute it follows, the ones before it completed', () => {
    const out = statements(
      buildTranscript(
        events([
          ['client', 'Parse', { statement: 'ins', sql: 'INSERT INTO t VALUES ($1)' }],
          ['client', 'Bind', { statement: 'ins', portal: '', params: ['1'] }],
          ['client', 'Execute', { portal: '' }],
          ['client', 'Bind', { statement: 'ins', portal: '', params: ['1'] }],
          ['client', 'Execute', { portal: '' }],
          ['client', 'Bind', { statement: 'ins', portal: '', params: ['3'] }],
          ['client', 'Execute', { portal: '' }],
          ['client', 'Sync'],
          // ParseComplete and BindComplete are not recorded: the first outcome proves them.
          ['server', 'CommandComplete', { tag: 'INSERT 0 1', rows: 1 }],
          ['server', 'ErrorResponse', { sqlstate: '23505', message: 'duplicate key' }],
          ['server', 'ReadyForQuery'],
        ]),
        1000,
      ),
    );
    assert.deepEqual(
      out.map((s) => [s.params, s.outcome.status]),
      [
        [['1'], 'ok'],
        [['1'], 'error'],
        [['3'], 'skipped'],
      ],
    );
  });

  it('reads a statement described before it is bound (P D S, then B E S), and a failed Bind of it as its own', () => {
    const out = statements(
      buildTranscript(
        events([
          ['client', 'Parse', { statement: 'q', sql: 'SELECT $1::int' }],
          ['client', 'Describe', { statement: 'q' }],
          ['client', 'Sync'],
          ['server', 'ReadyForQuery'],
          ['client', 'Bind', { statement: 'q', portal: '', params: ['x'] }],
          ['client', 'Sync'],
          ['server', 'ErrorResponse', { sqlstate: '22P02', message: 'invalid input syntax for type integer: "x"' }],
          ['server', 'ReadyForQuery'],
          ['client', 'Bind', { statement: 'q', portal: '', params: ['7'] }],
          ['client', 'Execute', { portal: '' }],
          ['client', 'Sync'],
          ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
          ['server', 'ReadyForQuery'],
        ]),
        1000,
      ),
    );
    assert.deepEqual(
      out.map((s) => [s.sql, s.outcome.status, s.outcome.sqlstate ?? null]),
      [
        ['SELECT $1::int', 'error', '22P02'],
        ['SELECT $1::int', 'ok', null],
      ],
    );
  });

  it('says so, and stops matching, when the replies no longer fit the requests (a damaged recording)', () => {
    const out = buildTranscript(
      events([
        ['client', 'Query', { sql: 'SELECT 1' }],
        ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
        ['server', 'ReadyForQuery'],
        ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
        ['client', 'Query', { sql: 'SELECT 2' }],
        ['server', 'CommandComplete', { tag: 'SELECT 1', rows: 1 }],
      ]),
      1000,
    );
    assert.deepEqual(
      out.map((e) => (e.type === 'note' ? e.kind : [e.sql, e.outcome.status])),
      [['SELECT 1', 'ok'], 'CommandComplete', ['SELECT 2', 'pending']],
    );
  });
});
