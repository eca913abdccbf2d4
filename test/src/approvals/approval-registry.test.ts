import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApprovalError } from '../../../src/approvals/approval-error.js';
import { ApprovalRegistry, DEFAULT_APPROVAL_LIMITS, type ApprovalAsker } from '../../../src/approvals/approval-registry.js';

const asker = (overrides: Partial<ApprovalAsker> = {}): ApprovalAsker => ({
  objectId: 'agent-1',
  appId: 'app-1',
  displayName: 'agent',
  connection: 'records-api',
  entry: 'writers',
  sessionId: 's-1',
  ...overrides,
});
const DBA = { approve: true, by: 'dba', via: 'bearer-token', from: '127.0.0.1', reason: 'ticket 1' };

describe('the approval registry', () => {
  it('admits exactly the approved statement, once, for the identity and connection that asked', () => {
    const now = 0;
    const registry = new ApprovalRegistry(
      { ...DEFAULT_APPROVAL_LIMITS, requestTtlMs: 60_000, approvalTtlMs: 10_000, pendingPerIdentity: 5 },
      () => now,
    );
    const sql = 'DELETE FROM records WHERE id = 7';
    const asked = registry.check(asker(), sql, 'writing public.records');
    assert.ok(asked.kind === 'pending' && asked.created);
    assert.deepEqual(registry.check(asker({ sessionId: 's-2' }), sql, 'w').kind, 'pending', 'asking again is the same request');
    registry.decide(asked.request.id, DBA);
    for (const other of [
      registry.check(asker({ objectId: 'agent-2' }), sql, 'w'),
      registry.check(asker({ connection: 'other-db' }), sql, 'w'),
      registry.check(asker(), `${sql} `, 'w'),
      registry.check(asker(), 'DELETE FROM records WHERE id = 8', 'w'),
    ]) {
      assert.equal(other.kind, 'pending', 'another identity, connection or text is another request');
    }
    const used = registry.check(asker({ sessionId: 's-3' }), sql, 'w');
    assert.equal(used.kind, 'approved');
    assert.equal(registry.get(asked.request.id)?.usedBy, 's-3');
    const again = registry.check(asker(), sql, 'w');
    assert.ok(again.kind === 'pending' && again.created && again.request.id !== asked.request.id, 'once: the next is a new request');
  });

  it('expires requests and approvals, answers a refusal, and caps what one identity may have waiting', () => {
    let now = 0;
    const registry = new ApprovalRegistry(
      { ...DEFAULT_APPROVAL_LIMITS, requestTtlMs: 60_000, approvalTtlMs: 10_000, pendingPerIdentity: 2 },
      () => now,
    );
    const first = registry.check(asker(), 'UPDATE records SET title = 1', 'w');
    assert.equal(first.kind, 'pending');
    registry.decide(first.request.id, DBA);
    now = 10_001;
    assert.equal(registry.get(first.request.id)?.state, 'expired');
    assert.equal(registry.check(asker(), 'UPDATE records SET title = 1', 'w').kind, 'pending', 'an expired approval admits nothing');
    const refused = registry.check(asker(), 'UPDATE records SET title = 2', 'w');
    registry.decide(refused.kind === 'pending' ? refused.request.id : '', { ...DBA, approve: false, reason: 'no' });
    assert.equal(registry.check(asker(), 'UPDATE records SET title = 2', 'w').kind, 'refused');
    assert.equal(registry.check(asker(), 'UPDATE records SET title = 3', 'w').kind, 'pending');
    assert.deepEqual(registry.check(asker(), 'UPDATE records SET title = 4', 'w'), { kind: 'too-many', limit: 2 });
    assert.equal(registry.check(asker({ objectId: 'agent-2' }), 'UPDATE records SET title = 4', 'w').kind, 'pending', 'per identity');
    now += 60_001;
    assert.equal(registry.list().filter((r) => r.state === 'pending').length, 0, 'pending requests expire');
  });

  it('answers only a pending request, and only with a reason', () => {
    const registry = new ApprovalRegistry();
    const asked = registry.check(asker(), 'DELETE FROM records', 'w');
    const id = asked.kind === 'pending' ? asked.request.id : '';
    assert.throws(
      () => registry.decide('000000000000', DBA),
      (e) => e instanceof ApprovalError && e.code === 'no-such-approval',
    );
    assert.throws(
      () => registry.decide(id, { ...DBA, reason: '  ' }),
      (e) => e instanceof ApprovalError && e.code === 'approval-reason-required',
    );
    registry.decide(id, DBA);
    assert.throws(
      () => registry.decide(id, DBA),
      (e) => e instanceof ApprovalError && e.code === 'approval-not-pending',
    );
  });

  it('tells a waiting session when its request is answered, or that it is still pending when its wait ends', async () => {
    // The registry's timers do not keep a process alive (a stopping gateway must exit): this one does, for the test.
    const alive = setTimeout(() => undefined, 5000);
    const registry = new ApprovalRegistry();
    const asked = registry.check(asker(), 'DELETE FROM records WHERE id = 1', 'w');
    const id = asked.kind === 'pending' ? asked.request.id : '';
    const answered = new Promise((resolve) => registry.whenDecided(id, 60_000, resolve));
    const unanswered = new Promise((resolve) => registry.whenDecided(id, 10, resolve));
    assert.equal(await unanswered, 'pending');
    registry.decide(id, DBA);
    assert.equal(await answered, 'approved');
    const stopped: string[] = [];
    const stop = registry.whenDecided(id, 10, (s) => stopped.push(s));
    stop();
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(stopped, [], 'a session that stopped waiting is not called');
    clearTimeout(alive);
  });

  it('with two approvers required, waits for a second, different approver; one refusal decides', () => {
    const registry = new ApprovalRegistry({ ...DEFAULT_APPROVAL_LIMITS, approversRequired: 2 });
    const sql = 'DELETE FROM records WHERE id = 9';
    const ask = (text = sql): string => {
      const asked = registry.check(asker(), text, 'w');
      assert.equal(asked.kind, 'pending');
      return asked.kind === 'pending' ? asked.request.id : '';
    };
    const id = ask();
    const alice = { ...DBA, by: 'alice', via: 'entra-user:oid-alice', approverId: 'oid-alice' };
    const bob = { ...DBA, by: 'bob', via: 'entra-user:oid-bob', approverId: 'oid-bob' };
    assert.equal(registry.decide(id, alice).state, 'pending', 'one approval of two');
    assert.equal(registry.check(asker(), sql, 'w').kind, 'pending', 'not admitted on one approval');
    assert.throws(
      () => registry.decide(id, { ...alice, by: 'alice again' }),
      (e) => e instanceof ApprovalError && e.code === 'approver-already-approved',
    );
    const approved = registry.decide(id, bob);
    assert.equal(approved.state, 'approved');
    assert.deepEqual(
      approved.approvals.map((a) => a.by),
      ['alice', 'bob'],
    );
    assert.equal(approved.decision?.by, 'bob');
    // Everyone holding the one admin token is one approver, whatever names they give.
    const shared = ask('DELETE FROM records WHERE id = 10');
    assert.equal(registry.decide(shared, { ...DBA, by: 'carol' }).state, 'pending');
    assert.throws(
      () => registry.decide(shared, { ...DBA, by: 'dave' }),
      (e) => e instanceof ApprovalError && e.code === 'approver-already-approved',
    );
    assert.equal(registry.decide(shared, alice).state, 'approved', 'the token and a person are two');
    const next = ask('DELETE FROM records WHERE id = 11');
    registry.decide(next, alice);
    assert.equal(registry.decide(next, { ...bob, approve: false, reason: 'no' }).state, 'refused');
  });

  it('lets no identity decide on its own request', () => {
    const registry = new ApprovalRegistry();
    const asked = registry.check(asker({ objectId: 'person-1' }), 'DELETE FROM records', 'w');
    const id = asked.kind === 'pending' ? asked.request.id : '';
    for (const approve of [true, false]) {
      assert.throws(
        () => registry.decide(id, { ...DBA, approve, via: 'entra-user:person-1', approverId: 'person-1' }),
        (e) => e instanceof ApprovalError && e.code === 'approval-self',
      );
    }
    assert.equal(registry.get(id)?.state, 'pending');
  });

  it('tells the asking session of each decision, before a session waiting on it is woken', async () => {
    const alive = setTimeout(() => undefined, 5000);
    const registry = new ApprovalRegistry({ ...DEFAULT_APPROVAL_LIMITS, approversRequired: 2 });
    const asked = registry.check(asker(), 'DELETE FROM records WHERE id = 3', 'w');
    const id = asked.kind === 'pending' ? asked.request.id : '';
    const heard: string[] = [];
    registry.onDecision(id, (request, d) => heard.push(`${d.by}:${request.state}`));
    const woken = new Promise<void>((resolve) =>
      registry.whenDecided(id, 60_000, (state) => {
        heard.push(`woken:${state}`);
        resolve();
      }),
    );
    registry.decide(id, { ...DBA, by: 'alice', via: 'entra-user:a', approverId: 'a' });
    registry.decide(id, { ...DBA, by: 'bob', via: 'entra-user:b', approverId: 'b' });
    await woken;
    assert.deepEqual(heard, ['alice:pending', 'bob:approved', 'woken:approved']);
    clearTimeout(alive);
  });

  it('gives an approval back only to the session that took it, and not past its expiry', () => {
    let now = 0;
    const registry = new ApprovalRegistry({ ...DEFAULT_APPROVAL_LIMITS, approvalTtlMs: 1000 }, () => now);
    const sql = 'DELETE FROM records WHERE id = 4';
    const asked = registry.check(asker(), sql, 'w');
    const id = asked.kind === 'pending' ? asked.request.id : '';
    registry.decide(id, DBA);
    assert.equal(registry.check(asker({ sessionId: 's-9' }), sql, 'w').kind, 'approved');
    assert.equal(registry.giveBack(id, 's-other'), false, 'another session cannot');
    assert.equal(registry.giveBack(id, 's-9'), true);
    assert.equal(registry.giveBack(id, 's-9'), false, 'not twice: it is no longer used');
    assert.equal(registry.check(asker({ sessionId: 's-10' }), sql, 'w').kind, 'approved', 'it stands again');
    now = 2000;
    assert.equal(registry.giveBack(id, 's-10'), false, 'past its expiry it expires instead');
    assert.equal(registry.get(id)?.state, 'expired');
  });

  it('between workers: tells where a statement stands without changing it, gives an approval up once, and holds one taken', async () => {
    let now = 0;
    const limits = { ...DEFAULT_APPROVAL_LIMITS, requestTtlMs: 60_000, approvalTtlMs: 10_000 };
    const holder = new ApprovalRegistry(limits, () => now);
    const taker = new ApprovalRegistry(limits, () => now);
    const settled: string[] = [];
    holder.onSettled((id, state) => settled.push(`${id}:${state}`));
    taker.onSettled((id, state) => settled.push(`taker ${id}:${state}`));
    const sql = 'DELETE FROM records WHERE id = 7';
    const pin = { objectId: 'agent-1', connection: 'records-api', sql };
    assert.equal(taker.checkHere(asker({ sessionId: 's-9' }), sql), undefined, 'nothing held, nothing asked');
    assert.deepEqual(taker.list(), []);
    const asked = holder.check(asker(), sql, 'w');
    assert.ok(asked.kind === 'pending');
    const id = asked.request.id;
    assert.equal(holder.peek(pin)?.state, 'pending');
    assert.equal(holder.peek({ ...pin, connection: 'other-db' }), undefined, 'pinned to the connection');
    assert.equal(holder.peek({ ...pin, params: '[]' }), undefined, 'and to the values');
    assert.equal(holder.takeForSibling(id, 's-9'), undefined, 'a pending request is not given up');
    const woken = new Promise<string>((resolve) => taker.whenDecided(id, 60_000, resolve));
    holder.decide(id, DBA);
    assert.deepEqual(settled, [`${id}:approved`], 'the decision is told on');
    taker.settledElsewhere(id, 'approved');
    assert.equal(await woken, 'approved', 'a session of the other worker waiting on it hears it');
    assert.deepEqual(settled, [`${id}:approved`], 'told back to no one: no echo between workers');
    assert.equal(holder.peek(pin)?.state, 'approved', 'peeking takes nothing');
    const taken = holder.takeForSibling(id, 's-9');
    assert.equal(taken?.state, 'used');
    assert.equal(taken?.takenElsewhere, true);
    assert.equal(holder.takeForSibling(id, 's-10'), undefined, 'given up once');
    assert.equal(holder.peek(pin), undefined);
    assert.equal(holder.check(asker(), sql, 'w').kind, 'pending', 'the holder asks afresh: the approval was used');
    assert.ok(taken !== undefined);
    const held = taker.adopt(JSON.parse(JSON.stringify(taken)) as typeof taken, 's-9');
    assert.deepEqual([held.state, held.usedBy, held.takenElsewhere], ['used', 's-9', undefined]);
    assert.deepEqual(
      holder
        .list()
        .map((r) => r.id)
        .includes(id),
      false,
      'listed by the worker that took it, not twice',
    );
    assert.deepEqual(
      taker.list().map((r) => r.id),
      [id],
    );
    assert.equal(taker.giveBack(id, 's-9'), true, 'its statement did not run: given back where it was taken');
    assert.equal(taker.checkHere(asker({ sessionId: 's-11' }), sql)?.kind, 'approved', 'and used there again');
    now += 61_000;
    holder.list();
    assert.deepEqual(settled.filter((e) => e.endsWith(':expired')).length, 1, 'an expiry is told on too');
  });
});
