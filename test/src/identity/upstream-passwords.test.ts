import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { AppTokens } from '../../../src/identity/app-tokens.js';
import { GatewayUpstreamPasswords } from '../../../src/identity/upstream-passwords.js';

const connection = (scope: string): ConnectionConfig => ({
  name: 'azure',
  host: '127.0.0.1',
  port: 5432,
  database: 'records',
  user: 'entra_gateway',
  auth: { kind: 'entra', scope },
  tls: 'require',
  connectTimeoutMs: 5000,
  searchPath: 'public',
  overloadLookup: 'kept-session',
});

/** Tokens handed out only when the test says so, counting the requests. */
function heldTokens(): AppTokens & { requests: string[]; answer(index: number, outcome: string | Error): void } {
  const waiting: { resolve(token: string): void; reject(e: Error): void }[] = [];
  const requests: string[] = [];
  return {
    requests,
    token: (scope) =>
      new Promise((resolve, reject) => {
        requests.push(scope);
        waiting.push({ resolve, reject });
      }),
    answer: (index, outcome) => {
      const request = waiting[index];
      assert.ok(request);
      if (outcome instanceof Error) request.reject(outcome);
      else request.resolve(outcome);
    },
  };
}

describe('the gateway’s upstream tokens', () => {
  it('makes one request for logins that ask while one is on its way, per scope, and a new one after it', async () => {
    const tokens = heldTokens();
    const passwords = new GatewayUpstreamPasswords(tokens);
    const a = connection('https://ossrdbms-aad.database.windows.net/.default');
    const b = connection('api://other/.default');
    const burst = [passwords.password(a), passwords.password(a), passwords.password(a), passwords.password(b)];
    assert.deepEqual(tokens.requests, ['https://ossrdbms-aad.database.windows.net/.default', 'api://other/.default']);
    tokens.answer(0, 'token-1');
    tokens.answer(1, 'token-b');
    const secrets = await Promise.all(burst);
    assert.deepEqual(
      secrets.map((s) => s.reveal()),
      ['token-1', 'token-1', 'token-1', 'token-b'],
    );
    const later = passwords.password(a);
    assert.equal(tokens.requests.length, 3, 'asked again once the first answered (msal decides whether from its cache)');
    tokens.answer(2, 'token-2');
    assert.equal((await later).reveal(), 'token-2');
  });

  it('gives every waiting login the failure, and asks again for the next', async () => {
    const tokens = heldTokens();
    const passwords = new GatewayUpstreamPasswords(tokens);
    const a = connection('https://ossrdbms-aad.database.windows.net/.default');
    const both = [passwords.password(a), passwords.password(a)];
    tokens.answer(0, new Error('AADSTS7000112: Application is disabled.'));
    for (const attempt of both) {
      await assert.rejects(attempt, { code: 'upstream-credential-unavailable', internalDetail: /AADSTS7000112/ });
    }
    const next = passwords.password(a);
    assert.equal(tokens.requests.length, 2);
    tokens.answer(1, 'token-after');
    assert.equal((await next).reveal(), 'token-after');
  });
});
