import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { describe, it, mock } from 'node:test';
import type { ApprovalRequest, ApprovalState } from '../../../src/approvals/approval-registry.js';
import type { ApprovalMessage } from '../../../src/workers/approval-messages.js';
import { ApprovalRouting } from '../../../src/workers/approval-routing.js';
import { ANSWER_TIMEOUT_MS } from '../../../src/workers/worker-siblings.js';

/** A worker as the primary sees it: what it was sent is kept for the test to read. */
function worker(id: number): Worker & { readonly sent: ApprovalMessage[]; dead: boolean } {
  const sent: ApprovalMessage[] = [];
  const w = { id, sent, dead: false, send: (m: ApprovalMessage) => void sent.push(m), isDead: () => w.dead };
  return w as unknown as Worker & { readonly sent: ApprovalMessage[]; dead: boolean };
}

const pin = { objectId: 'agent', connection: 'db', sql: 'DELETE FROM records WHERE id = 7' };
const request = (id: string, state: ApprovalState): ApprovalRequest => ({
  id,
  asker: { objectId: 'agent', appId: 'app', displayName: undefined, connection: 'db', entry: 'writers', sessionId: 's0' },
  sql: pin.sql,
  fingerprint: 'f'.repeat(32),
  what: 'deleting from public.records',
  requestedAtMs: 0,
  state,
  approvals: [],
});

function setUp(count: number): { routing: ApprovalRouting; workers: ReturnType<typeof worker>[] } {
  const workers = Array.from({ length: count }, (_, i) => worker(i + 1));
  return { routing: new ApprovalRouting(() => workers), workers };
}

const claim = (id = 1): ApprovalMessage => ({ idgate: 'approval-claim', id, pin, sessionId: 's9' });
const found = (w: { sent: ApprovalMessage[] }): ApprovalMessage | undefined => w.sent.find((m) => m.idgate === 'approval-found');

describe('the primary routing approvals between workers', () => {
  it('asks every other worker, then only one holder of an approval to give it up', () => {
    const { routing, workers } = setUp(3);
    const [asker, a, b] = workers;
    assert.ok(asker !== undefined && a !== undefined && b !== undefined);
    routing.route(asker, claim());
    assert.deepEqual(
      [a, b].map((w) => w.sent.map((m) => m.idgate)),
      [['approval-peek'], ['approval-peek']],
    );
    routing.route(a, { idgate: 'approval-peeked', id: 1, origin: asker.id, request: request('r-a', 'approved') });
    routing.route(b, { idgate: 'approval-peeked', id: 1, origin: asker.id, request: request('r-b', 'approved') });
    const takes = [a, b].flatMap((w) => w.sent.filter((m) => m.idgate === 'approval-take'));
    assert.equal(takes.length, 1, 'one approval is taken, not both');
    routing.route(a, { idgate: 'approval-taken', id: 1, origin: asker.id, request: { ...request('r-a', 'used'), takenElsewhere: true } });
    assert.deepEqual(found(asker), { idgate: 'approval-found', id: 1, request: { ...request('r-a', 'used'), takenElsewhere: true } });
  });

  it('asks the next holder when the first no longer has it, and ignores a late answer of one it stopped waiting for', () => {
    const { routing, workers } = setUp(3);
    const [asker, a, b] = workers;
    assert.ok(asker !== undefined && a !== undefined && b !== undefined);
    routing.route(asker, claim(2));
    routing.route(a, { idgate: 'approval-peeked', id: 2, origin: asker.id, request: request('r-a', 'approved') });
    routing.route(b, { idgate: 'approval-peeked', id: 2, origin: asker.id, request: request('r-b', 'approved') });
    routing.route(a, { idgate: 'approval-taken', id: 2, origin: asker.id, request: null });
    assert.equal(b.sent.filter((m) => m.idgate === 'approval-take').length, 1, 'the next holder is asked');
    // A's answer again, late and now claiming it gave one up: not B's answer, so not taken for the asker.
    routing.route(a, { idgate: 'approval-taken', id: 2, origin: asker.id, request: request('r-a', 'used') });
    assert.equal(found(asker), undefined);
    routing.route(b, { idgate: 'approval-taken', id: 2, origin: asker.id, request: request('r-b', 'used') });
    assert.equal((found(asker) as { request: ApprovalRequest } | undefined)?.request.id, 'r-b');
  });

  it('answers with a pending request before a refused one, and with nothing when no other worker holds it', () => {
    const { routing, workers } = setUp(3);
    const [asker, a, b] = workers;
    assert.ok(asker !== undefined && a !== undefined && b !== undefined);
    routing.route(asker, claim(3));
    routing.route(a, { idgate: 'approval-peeked', id: 3, origin: asker.id, request: request('r-a', 'refused') });
    routing.route(b, { idgate: 'approval-peeked', id: 3, origin: asker.id, request: request('r-b', 'pending') });
    assert.equal((found(asker) as { request: ApprovalRequest } | undefined)?.request.id, 'r-b');
    const alone = setUp(1);
    const [only] = alone.workers;
    assert.ok(only !== undefined);
    alone.routing.route(only, claim(4));
    assert.deepEqual(found(only), { idgate: 'approval-found', id: 4, request: null });
  });

  it('passes a request’s answer on to every other worker, and to no dead one', () => {
    const { routing, workers } = setUp(3);
    const [from, a, b] = workers;
    assert.ok(from !== undefined && a !== undefined && b !== undefined);
    b.dead = true;
    const settled: ApprovalMessage = { idgate: 'approval-settled', requestId: 'r-1', state: 'approved' };
    routing.route(from, settled);
    assert.deepEqual([from.sent, a.sent, b.sent], [[], [settled], []]);
  });

  it('counts a worker that does not answer in time as holding nothing, and one that does not give its approval up in time as not having it', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { routing, workers } = setUp(3);
      const [asker, a, b] = workers;
      assert.ok(asker !== undefined && a !== undefined && b !== undefined);
      routing.route(asker, claim(5));
      routing.route(a, { idgate: 'approval-peeked', id: 5, origin: asker.id, request: request('r-a', 'pending') });
      assert.equal(found(asker), undefined, 'still waiting for b');
      mock.timers.tick(ANSWER_TIMEOUT_MS);
      assert.equal((found(asker) as { request: ApprovalRequest } | undefined)?.request.id, 'r-a', 'b said nothing in time');

      const again = setUp(2);
      const [asker2, holder] = again.workers;
      assert.ok(asker2 !== undefined && holder !== undefined);
      again.routing.route(asker2, claim(6));
      again.routing.route(holder, { idgate: 'approval-peeked', id: 6, origin: asker2.id, request: request('r-h', 'approved') });
      assert.equal(holder.sent.filter((m) => m.idgate === 'approval-take').length, 1);
      mock.timers.tick(ANSWER_TIMEOUT_MS);
      assert.deepEqual(
        found(asker2),
        { idgate: 'approval-found', id: 6, request: null },
        'not given up in time: nothing taken for the asker',
      );
      again.routing.route(holder, { idgate: 'approval-taken', id: 6, origin: asker2.id, request: request('r-h', 'used') });
      assert.equal(asker2.sent.filter((m) => m.idgate === 'approval-found').length, 1, 'a late answer changes nothing');
    } finally {
      mock.timers.reset();
    }
  });
});
