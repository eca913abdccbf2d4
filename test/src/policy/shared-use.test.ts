import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sharedIdentities, type SessionUse } from '../../../src/policy/shared-use.js';

const use = (identity: string, user: string, address: string, start: number, end: number | null): SessionUse => ({
  identity_oid: identity,
  client_user: user,
  client_address: address,
  started_at_us: start,
  ended_at_us: end,
});

describe('shared identities', () => {
  it('flags one identity used under two labels or from two hosts at once or close together, not one agent reconnecting', () => {
    const sessions = [
      use('a', 'agent-1', '10.0.0.1', 0, 100),
      use('a', 'agent-1', '10.0.0.1', 200, 300), // the same agent again: not shared
      use('b', 'agent-1', '10.0.0.1', 0, 100),
      use('b', 'agent-2', '10.0.0.1', 50, 60), // another label at the same time
      use('c', 'agent-1', '10.0.0.1', 0, 100),
      use('c', 'agent-1', '10.0.0.9', 150, 160), // another host, within the gap
      use('d', 'agent-1', '10.0.0.1', 0, 100),
      use('d', 'agent-2', '10.0.0.2', 10_000, 10_100), // long after: not shared
      use('e', 'agent-1', '10.0.0.1', 0, null),
      use('e', 'agent-2', '10.0.0.1', 5_000, 5_001), // an open session overlaps
    ];
    assert.deepEqual([...sharedIdentities(sessions, 100, 20_000)].sort(), ['b', 'c', 'e']);
  });
});
