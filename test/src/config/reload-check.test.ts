import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../../src/config/load-config.js';
import { restartOnlyChanges, sameConnection } from '../../../src/config/reload-check.js';

const TENANT = '72f988bf-0000-0000-0000-000000000000';
const APP = '0d9f3c1e-0000-0000-0000-000000000000';

type Document = Record<string, unknown> & { listen: Record<string, unknown>; entra: Record<string, unknown> };

function config(edit: (doc: Document) => void = () => undefined, env: Record<string, string> = { PW: 'one', GW: 'secret-1' }) {
  const doc: Document = {
    listen: { port: 5433 },
    entra: {
      'tenant-id': TENANT,
      audience: 'api://idgate',
      'gateway-identity': { 'client-id': APP, 'client-secret-env': 'GW' },
      graph: {},
    },
    connections: [{ name: 'c', host: 'db', database: 'd', user: 'u', 'password-env': 'PW' }],
    'identity-map': [{ 'entra-app-role': 'R', connection: 'c', scope: 'read' }],
  };
  edit(doc);
  return buildConfig(doc, 'test', '/', env);
}

describe('what a reload may change', () => {
  it('allows connections and identity-map, and names every other section that changed', () => {
    assert.deepEqual(restartOnlyChanges(config(), config()), []);
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d['identity-map'] = [{ 'entra-app-role': 'R', connection: 'c', scope: 'all' }])),
      ),
      [],
    );
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d.listen['port'] = 6543)),
      ),
      ['listen'],
    );
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d.entra['clock-skew-seconds'] = 5)),
      ),
      ['entra'],
    );
    assert.deepEqual(
      restartOnlyChanges(config(), config(undefined, { PW: 'one', GW: 'secret-2' })),
      ['entra'],
      'a new gateway secret needs a restart',
    );
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d['log'] = { level: 'debug' })),
      ),
      ['log'],
    );
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d['session'] = { 'end-at-token-expiry': false })),
      ),
      ['session'],
    );
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d['limits'] = { 'statement-timeout': '5s' })),
      ),
      [],
      'limits reload (for new sessions)',
    );
    assert.deepEqual(
      restartOnlyChanges(
        config(),
        config((d) => void (d['admin'] = { port: 9999 })),
      ),
      ['admin'],
    );
    const withToken = (token: string) => config((d) => void (d['admin'] = { 'token-env': 'AT' }), { PW: 'one', GW: 'secret-1', AT: token });
    assert.deepEqual(
      restartOnlyChanges(withToken('token-one-0123456789'), withToken('token-two-0123456789')),
      ['admin'],
      'a new admin token needs a restart',
    );
    assert.deepEqual(restartOnlyChanges(withToken('token-one-0123456789'), withToken('token-one-0123456789')), []);
  });

  it('compares connections with their secrets by value', () => {
    const a = config().connections.get('c');
    const b = config(undefined, { PW: 'two', GW: 'secret-1' }).connections.get('c');
    assert.ok(a && b);
    assert.equal(sameConnection(a, config().connections.get('c') ?? a), true);
    assert.equal(sameConnection(a, b), false, 'a changed password is a changed connection');
  });
});
