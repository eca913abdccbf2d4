import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { exitFatal, exitFor, internalErrorFatal } from '../../../../protocols/postgres/client/session-exit.js';
import type { EndReason } from '../../../../src/session/end-reason.js';
import { decodeErrorFields } from '../../../../protocols/postgres/wire/error-fields.js';

/** The end reasons and what docs/errors.md says the client gets, read from its table. */
function documented(): Map<string, string> {
  const text = readFileSync('docs/errors.md', 'utf8');
  const section = text.slice(text.indexOf('## Session end reasons'), text.indexOf('## Operators'));
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\| `([a-z-]+)` +\| ([^|]+?) +\|/gm)) rows.set(match[1] ?? '', match[2] ?? '');
  return rows;
}

describe('the session exit', () => {
  const rows = documented();
  const reasons = [...rows.keys()] as EndReason[];

  it('answers for every end reason the docs list, and the docs say what the client gets', () => {
    assert.ok(reasons.length >= 21, 'the table lists every end reason');
    for (const reason of reasons) {
      const exit = exitFor(reason);
      const says = rows.get(reason) ?? '';
      if (exit === undefined) assert.doesNotMatch(says, /FATAL/, reason);
      else assert.equal(says, `FATAL ${exit.sqlstate}`, reason);
    }
  });

  it('ends a session idle too long with 57P05 and one revoked or ended by an operator with 57P01, the caller’s words kept', () => {
    const fields = (b: Buffer): Map<string, string> => decodeErrorFields(b.subarray(5)) ?? new Map();
    assert.equal(fields(exitFatal('idle-timeout')).get('C'), '57P05');
    for (const reason of ['identity-disabled', 'membership-revoked', 'admin-terminated', 'gateway-shutdown'] as const) {
      assert.equal(fields(exitFatal(reason)).get('C'), '57P01');
      assert.equal(fields(exitFatal(reason)).get('V'), 'FATAL');
    }
    assert.equal(fields(exitFatal('admin-terminated', 'ended by alice')).get('M'), 'ended by alice');
  });

  it('gives the gateway’s own failure a fixed text naming the session, nothing else', () => {
    const f = decodeErrorFields(internalErrorFatal('s-1').subarray(5));
    assert.equal(f?.get('C'), 'XX000');
    assert.equal(f?.get('M'), 'internal error in the gateway (session s-1)');
  });
});
