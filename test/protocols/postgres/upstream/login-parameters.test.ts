import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loginUpstream } from '../../../../protocols/postgres/upstream/login-upstream.js';
import { Secret } from '../../../../src/config/secret.js';

describe('loginUpstream', () => {
  it('refuses, before connecting, a startup parameter holding a NUL (it would end the value and start a parameter of its own)', async () => {
    // Port 9 on loopback: nothing listens, and nothing is tried: the refusal comes first.
    const connection = {
      name: 'c',
      host: '127.0.0.1',
      port: 9,
      database: 'd',
      user: 'u',
      auth: { kind: 'password' as const, password: new Secret('pw') },
      tls: 'disable' as const,
      connectTimeoutMs: 1000,
      searchPath: 'public',
      overloadLookup: 'kept-session' as const,
    };
    await assert.rejects(loginUpstream(connection, new Map([['idgate.display_name', 'x\u0000role\u0000postgres']])), {
      code: 'startup-parameter-refused',
    });
    await assert.rejects(loginUpstream(connection, new Map([['bad\u0000name', 'v']])), { code: 'startup-parameter-refused' });
  });
});
