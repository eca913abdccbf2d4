import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionEnded } from '../../../../protocols/postgres/client/run-session.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { createLogger } from '../../../../src/logging/logger.js';
import { GatewayMetrics } from '../../../../src/metrics/gateway-metrics.js';
import { MemoryBudget } from '../../../../src/session/memory-budget.js';
import { SessionRegistry } from '../../../../src/session/session-registry.js';

function metrics(): GatewayMetrics {
  return new GatewayMetrics(
    new SessionRegistry(),
    () => ({ backlog: 0, centralBacklog: 0, healthy: true, journalSlowAppends: 0, journalAppends: 0, journalHeldChunks: 0 }),
    new MemoryBudget(1024),
    () => 0,
    'n1',
  );
}

describe('a session’s end', () => {
  it('counts a reply that fitted nothing forwarded in idgate_reply_out_of_sync_total, and no other end', async () => {
    const m = metrics();
    const log = createLogger('silent');
    const bytes = { bytesFromClient: 1, bytesToClient: 2 };
    sessionEnded(m, { reason: 'client-terminated', ...bytes }, log);
    sessionEnded(
      m,
      {
        reason: 'upstream-protocol-violation',
        error: new ProtocolError('frame-too-short', 'the database sent a malformed message'),
        ...bytes,
      },
      log,
    );
    assert.equal(await m.replyOutOfSyncCount(), 0);
    sessionEnded(
      m,
      { reason: 'upstream-protocol-violation', error: new ProtocolError('reply-out-of-sync', 'the reply C answers nothing'), ...bytes },
      log,
    );
    assert.equal(await m.replyOutOfSyncCount(), 1);
    assert.match(await m.text(), /^idgate_reply_out_of_sync_total\{[^}]*\} 1$/m);
  });
});
