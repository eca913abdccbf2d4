import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApprovalRegistry, type ApprovalAsker, type ApprovalRequest } from '../../../src/approvals/approval-registry.js';
import { outcomeHere } from '../../../src/approvals/found-elsewhere.js';

const asker = (sessionId: string): ApprovalAsker => ({
  objectId: 'agent-1',
  appId: 'app-1',
  displayName: 'agent',
  connection: 'records-api',
  entry: 'writers',
  sessionId,
});
const statement = { sql: 'DELETE FROM records WHERE id = 7', what: 'deleting from public.records', params: undefined };

/** A request as another worker holds it, approved by a DBA; `taken`: given up for this worker's session. */
function elsewhere(state: ApprovalRequest['state'], taken = false): ApprovalRequest {
  const other = new ApprovalRegistry();
  const asked = other.check(asker('s-elsewhere'), statement.sql, statement.what);
  assert.ok(asked.kind === 'pending');
  if (state !== 'pending') {
    other.decide(asked.request.id, { approve: state !== 'refused', by: 'dba', via: 'bearer-token', from: '::1', reason: 'r' });
  }
  const request = taken ? other.takeForSibling(asked.request.id, 's-1') : other.get(asked.request.id);
  assert.ok(request !== undefined);
  return JSON.parse(JSON.stringify(request)) as ApprovalRequest; // as it crosses the IPC channel
}

describe('what a lookup in the other workers comes to here', () => {
  it('holds an approval taken there as used by the asking session, news to record', () => {
    const here = new ApprovalRegistry();
    const { outcome, news } = outcomeHere(here, elsewhere('approved', true), asker('s-1'), statement, true);
    assert.equal(outcome.kind, 'approved');
    assert.equal(news, true);
    assert.deepEqual(
      here.list().map((r) => [r.state, r.usedBy]),
      [['used', 's-1']],
    );
  });

  it('keeps an approval taken for a session that ended meanwhile, approved here for the next asking, and records nothing', () => {
    const here = new ApprovalRegistry();
    const taken = elsewhere('approved', true);
    const { outcome, news } = outcomeHere(here, taken, asker('s-1'), statement, false);
    assert.equal(outcome.kind, 'pending', 'the ended session runs nothing');
    assert.equal(news, false);
    assert.equal(here.get(taken.id)?.state, 'approved', 'not used up');
    assert.equal(here.checkHere(asker('s-2'), statement.sql)?.kind, 'approved', 'the next session of the agent runs it');
  });

  it('answers with a request found there, adding none here, and makes one when none was found', () => {
    const here = new ApprovalRegistry();
    for (const state of ['pending', 'refused'] as const) {
      const found = elsewhere(state);
      const { outcome, news } = outcomeHere(here, found, asker('s-1'), statement, true);
      assert.equal(outcome.kind, state);
      assert.equal('request' in outcome ? outcome.request.id : undefined, found.id);
      assert.equal(news, false);
    }
    assert.deepEqual(here.list(), []);
    const made = outcomeHere(here, undefined, asker('s-1'), statement, true);
    assert.ok(made.outcome.kind === 'pending' && made.outcome.created && made.news);
    const again = outcomeHere(here, undefined, asker('s-2'), statement, true);
    assert.ok(again.outcome.kind === 'pending' && !again.outcome.created, 'a session here asked meanwhile: its request, not a second');
  });
});
