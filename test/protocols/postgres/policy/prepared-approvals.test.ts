import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApprovalOutcome } from '../../../../src/approvals/approval-registry.js';
import { MAX_GATED_BYTES, PreparedApprovals } from '../../../../protocols/postgres/policy/prepared-approvals.js';
import { Frontend } from '../../../../protocols/postgres/wire/codes.js';
import { encodeMessage } from '../../../../protocols/postgres/wire/message-writer.js';

const TOO_MANY: ApprovalOutcome = { kind: 'too-many', limit: 0 };
const NOT_ENDING = (): undefined => undefined;
const bind = (statement: Buffer): Buffer =>
  encodeMessage(Frontend.Bind, [{ cstring: '' }, { bytes: statement }, { int8: 0 }, { int16: 0 }, { int16: 0 }, { int16: 0 }]);

describe('prepared statements held for approval at each Bind', () => {
  it('keeps the unnamed statement held until the server has parsed the plain one that replaces it', () => {
    const prepared = new PreparedApprovals(() => TOO_MANY);
    const unnamed = Buffer.alloc(0);
    prepared.parsed(unnamed, 'DELETE FROM records WHERE id = $1', 'deleting from public.records', []);
    // A plain Parse replaces it for the Binds before the next Sync (were the Parse skipped, they would be too)…
    const skipped = prepared.plainParse(unnamed);
    assert.ok(skipped !== undefined);
    assert.equal(prepared.bind(bind(unnamed), NOT_ENDING), undefined, 'Parse and Bind in one batch bind the new statement');
    // …but past a Sync, a Parse the server skipped (an error earlier in the pipeline) never confirms: still held.
    prepared.synced();
    assert.ok(prepared.bind(bind(unnamed), NOT_ENDING) !== undefined, 'held until its replacement is confirmed');
    // A gated Parse after the plain one: an older confirmation does not release it.
    prepared.parsed(unnamed, 'DELETE FROM records WHERE id = $1', 'deleting from public.records', []);
    prepared.confirmed(skipped);
    assert.ok(prepared.bind(bind(unnamed), NOT_ENDING) !== undefined, 'a confirmation older than the held statement releases nothing');
    const replaced = prepared.plainParse(unnamed);
    assert.ok(replaced !== undefined);
    prepared.confirmed(replaced);
    assert.equal(
      prepared.bind(bind(unnamed), NOT_ENDING),
      undefined,
      'the server parsed the plain one: the unnamed statement is no longer held',
    );
  });

  it('keys names by their bytes: two invalid UTF-8 names that decode alike are two statements', () => {
    const prepared = new PreparedApprovals(() => TOO_MANY);
    prepared.parsed(Buffer.from([0xff]), 'DELETE FROM records', 'deleting from public.records', []);
    assert.ok(prepared.bind(bind(Buffer.from([0xff])), NOT_ENDING) !== undefined);
    assert.equal(
      prepared.bind(bind(Buffer.from([0xfe])), NOT_ENDING),
      undefined,
      '0xfe is not the held statement, though both decode to U+FFFD',
    );
  });

  it('pins the types the Parse named: the same text and bytes under other types are another statement', () => {
    const asked: string[] = [];
    const prepared = new PreparedApprovals((_sql, _what, params) => {
      asked.push(params);
      return TOO_MANY;
    });
    const name = Buffer.from('s1');
    const value = Buffer.from('0de0b6b3a7640000', 'hex');
    const binaryBind = encodeMessage(Frontend.Bind, [
      { cstring: '' },
      { bytes: name },
      { int8: 0 },
      { int16: 1 },
      { int16: 1 },
      { int16: 1 },
      { int32: value.length },
      { bytes: value },
      { int16: 0 },
    ]);
    prepared.parsed(name, 'DELETE FROM records WHERE id > $1', 'deleting from public.records', [20]);
    assert.ok(prepared.bind(binaryBind, NOT_ENDING) !== undefined);
    prepared.parsed(name, 'DELETE FROM records WHERE id > $1', 'deleting from public.records', [701]);
    assert.ok(prepared.bind(binaryBind, NOT_ENDING) !== undefined);
    assert.equal(asked.length, 2);
    assert.notEqual(asked[0], asked[1], 'a bigint and a double precision of the same eight bytes are asked for apart');
  });

  it('bounds the memory held statements take in one session, counting each name once however often it is prepared', () => {
    const prepared = new PreparedApprovals(() => TOO_MANY);
    const what = 'deleting from public.records';
    // 1 MiB of text each (two bytes a character as counted): 16 fit in MAX_GATED_BYTES, the 17th does not.
    const text = (n: number): string => `DELETE FROM records WHERE id = $1 /* ${String(n).padEnd((1 << 19) - 40, 'x')} */`;
    for (let n = 0; n < MAX_GATED_BYTES / (1 << 20); n++) {
      assert.deepEqual(prepared.parsed(Buffer.from(`s${n}`), text(n), what, []), { allowed: true }, `statement ${n}`);
    }
    const refused = prepared.parsed(Buffer.from('one-more'), text(99), what, []);
    assert.equal(refused.allowed ? '' : refused.sqlstate, '53400');
    assert.match(refused.allowed ? '' : refused.message, /prepared 16 MiB of such statements already/);
    // Preparing a name again replaces what it held: no growth.
    for (let i = 0; i < 20; i++) assert.deepEqual(prepared.parsed(Buffer.from('s0'), text(i), what, []), { allowed: true });
    // 65,535 parameter types count too (eight bytes each as counted).
    const small = new PreparedApprovals(() => TOO_MANY);
    const types = new Array<number>(65_535).fill(23);
    let held = 0;
    while (small.parsed(Buffer.from(`t${held}`), 'DELETE FROM records WHERE id = $1', what, types).allowed) held += 1;
    assert.equal(held, Math.floor(MAX_GATED_BYTES / (65_535 * 8 + 66)));
  });
});
