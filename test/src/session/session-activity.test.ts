import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionActivity } from '../../../src/session/session-activity.js';

describe('SessionActivity', () => {
  it('follows round trips and transactions from the client speaking and the server being ready', () => {
    const a = new SessionActivity();
    assert.equal(a.state, 'idle');
    a.clientSpoke();
    assert.equal(a.state, 'active');
    assert.ok(a.lastStatementAt !== undefined);
    a.ready('in-transaction'); // BEGIN
    assert.equal(a.state, 'idle in transaction');
    a.clientSpoke();
    a.ready('failed'); // an error inside it
    assert.equal(a.state, 'idle in transaction (aborted)');
    a.clientSpoke();
    a.ready('idle'); // ROLLBACK
    assert.equal(a.state, 'idle');
    assert.equal(a.statements, 3);
    assert.equal(a.transactions, 1);
    assert.ok(a.transactionMs >= 0 && a.statementMs >= 0);
  });

  it('counts each ReadyForQuery of a pipeline, and a statement outside a transaction as none', () => {
    const a = new SessionActivity();
    a.clientSpoke();
    a.clientSpoke(); // more of the same pipeline
    a.ready('idle');
    a.ready('idle');
    assert.equal(a.statements, 2);
    assert.equal(a.transactions, 0);
  });

  it('adds both directions in bytesMoved', () => {
    const a = new SessionActivity();
    a.bytesFromClient += 10;
    a.bytesToClient += 32;
    assert.equal(a.bytesMoved, 42);
  });
});
