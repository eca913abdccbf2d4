import { entryName, entryRecord } from '../../../src/policy/entry-name.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/config-error.js';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import { loadConfigFile } from '../../../src/config/load-config.js';
import { repoPath } from '../../support/repo-root.js';

const GATEWAY_APP = '0d9f3c1e-0000-0000-0000-000000000000';

const EXAMPLE = `
listen:
  host: 127.0.0.1
  port: 5433
  tls: { cert: certs/server.crt, key: certs/server.key }
  allow-plaintext: false
entra:
  tenant-id: 72f988bf-0000-0000-0000-000000000000
  audience: api://idgate
  authority: https://login.microsoftonline.com
connections:
  - name: records-api
    host: 127.0.0.1
    port: 5432
    database: records
    user: sync_writer
    password-env: RECORDS_API_PASSWORD
    tls: disable
identity-map:
  - entra-group: 3f6c1a52-0000-0000-0000-000000000000
    connection: records-api
    scope: write:records
    record: true
  - entra-app-role: Records.Read
    connection: records-api
    scope: read
    record: true
recordings:
  path: recordings/audit.db
`;

describe('loadConfigFile', () => {
  let dir: string;
  const env = { RECORDS_API_PASSWORD: 'pw-from-env' };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-config-'));
    writeFileSync(join(dir, 'cert.pem'), 'CERT');
    writeFileSync(join(dir, 'key.pem'), 'KEY');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  function problems(text: string, name = 'bad.yaml', environment: NodeJS.ProcessEnv = env): string {
    try {
      loadConfigFile(write(name, text), environment);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message;
    }
    assert.fail('the config was accepted');
  }

  it('loads the example from the product’s documentation', () => {
    const file = write('idgate.yaml', EXAMPLE.replace('certs/server.crt', 'cert.pem').replace('certs/server.key', 'key.pem'));
    const config = loadConfigFile(file, env);
    assert.equal(config.listen.port, 5433);
    assert.equal(config.listen.tls?.cert.toString(), 'CERT');
    assert.equal(config.entra.tenantId, '72f988bf-0000-0000-0000-000000000000');
    assert.deepEqual(config.entra.audiences, ['api://idgate']);
    const connection = config.connections.get('records-api');
    assert.equal(connection?.auth.kind === 'password' ? connection.auth.password.reveal() : undefined, 'pw-from-env');
    assert.equal(connection?.tls, 'disable');
    assert.deepEqual(
      config.identityMap.map((r) => r.match),
      [
        { kind: 'entra-group', groupId: '3f6c1a52-0000-0000-0000-000000000000' },
        { kind: 'entra-app-role', role: 'Records.Read' },
      ],
    );
    assert.equal(config.recordingsPath, join(dir, 'recordings/audit.db'));
    assert.equal(JSON.stringify(connection), JSON.stringify(connection).replace('pw-from-env', ''), 'the password never serialises');
  });

  it('accepts JSON, a password file, defaults, and a list of audiences', () => {
    write('pw.txt', 'secret-from-file\n');
    const file = write(
      'idgate.json',
      JSON.stringify({
        entra: { 'tenant-id': '72f988bf-0000-0000-0000-000000000000', audience: ['api://idgate', '11111111-1111-1111-1111-111111111111'] },
        connections: [{ name: 'c', host: 'db', database: 'd', user: 'u', 'password-file': 'pw.txt' }],
        'identity-map': [{ 'entra-app-role': 'R', connection: 'c', scope: 'read' }],
      }),
    );
    const config = loadConfigFile(file, {});
    assert.equal(storedPassword(config.connections.get('c')), 'secret-from-file');
    assert.equal(config.connections.get('c')?.tls, 'require');
    assert.equal(config.connections.get('c')?.port, 5432);
    assert.equal(config.connections.get('c')?.overloadLookup, 'kept-session');
    assert.equal(config.listen.port, 5433);
    assert.equal(config.listen.allowPlaintext, false);
    assert.equal(config.entra.authority, 'https://login.microsoftonline.com');
    assert.equal(config.entra.audiences.length, 2);
    assert.equal(config.identityMap[0]?.record, true);
  });

  it('reads limits at every level and the admin endpoint, and refuses an admin endpoint off loopback without authentication', () => {
    const base = EXAMPLE.replace('certs/server.crt', 'cert.pem').replace('certs/server.key', 'key.pem');
    const withLimits = base
      .replace(
        'identity-map:',
        'limits:\n  statement-timeout: 30s\n  idle-timeout: 10min\n  identities:\n    - { identity: 11111111-2222-3333-4444-555555555555, max-rows: 5, statement-timeout: 250ms }\nidentity-map:',
      )
      .replace('    scope: read', '    scope: read\n    limits: { max-sessions: 3, idle-in-transaction-timeout: 2 }')
      .concat('admin: { port: 9999, token-env: ADMIN_TOKEN }\n');
    const config = loadConfigFile(write('limits.yaml', withLimits), { ...env, ADMIN_TOKEN: 'a-token-of-sixteen+' });
    assert.deepEqual(config.limits.defaults, { statementTimeoutMs: 30_000, idleTimeoutMs: 600_000 });
    assert.deepEqual(config.limits.identities.get('11111111-2222-3333-4444-555555555555'), { statementTimeoutMs: 250, maxRows: 5 });
    assert.deepEqual(config.identityMap[1]?.limits, { idleInTransactionTimeoutMs: 2000, maxSessions: 3 });
    assert.equal(config.admin?.host, '127.0.0.1');
    assert.equal(config.admin?.port, 9999);
    assert.equal(config.admin?.token?.reveal(), 'a-token-of-sixteen+');
    assert.match(
      problems(base.replace('identity-map:', 'limits: { statement-timeout: 5 minutes }\nidentity-map:')),
      /limits\.statement-timeout/,
    );
    assert.match(
      problems(base.concat('admin: { host: 0.0.0.0 }\n')),
      /admin\.host: off loopback the admin endpoint needs token-env, token-file or tls\.client-ca/,
    );
    assert.match(
      problems(base.concat('admin: { token-env: SHORT }\n'), 'short.yaml', { ...env, SHORT: 'abc' }),
      /admin\.token-env: the admin token must be at least 16 characters/,
    );
  });

  it('names recordings.central.url when the URL cannot be used', () => {
    const yaml = EXAMPLE.replace('certs/server.crt', 'cert.pem')
      .replace('certs/server.key', 'key.pem')
      .replace('recordings:', 'recordings:\n  central: { url: "mysql://x/y" }');
    assert.throws(
      () => loadConfigFile(write('bad-central.yaml', yaml), { RECORDS_API_PASSWORD: 'x' }),
      (e: Error) => /recordings\.central\.url: the URL mysql:\/\/x\/y: not a postgres:\/\/ or postgresql:\/\/ URL/.test(e.message),
    );
  });

  it("accepts the configuration reference's annotated example as it stands", () => {
    const reference = readFileSync(repoPath('docs/configuration.md'), 'utf8');
    const example = /## An annotated example\n[\s\S]*?```yaml\n([\s\S]+?)```/.exec(reference)?.[1] ?? '';
    assert.match(example, /gateway-identity:/);
    const file = write('annotated.yaml', example.replace('certs/server.crt', 'cert.pem').replace('certs/server.key', 'key.pem'));
    const config = loadConfigFile(file, {
      RECORDS_API_PASSWORD: 'x',
      IDGATE_CLIENT_SECRET: 'y',
      IDGATE_AUDIT_PASSWORD: 'z',
      IDGATE_ADMIN_TOKEN: 'an-admin-token-of-some-length',
    });
    assert.equal(config.connections.get('orders-azure')?.auth.kind, 'entra');
    assert.equal(config.limits.defaults.statementTimeoutMs, 30_000);
    assert.equal(config.admin?.port, 9464);
    assert.equal(config.central?.connection.host, 'audit-db');
    assert.equal(config.central?.connection.tls, 'require');
    const auth = config.central?.connection.auth;
    assert.equal(auth?.kind === 'password' ? auth.password.reveal() : undefined, 'z', 'the password comes from password-env');
    assert.equal(config.entra.graph?.recheckMs, 30_000);
  });

  it('reads the Entra lifecycle settings: gateway identity, graph with defaults, auth: entra, group names, session', () => {
    write('gw-secret.txt', 'graph-secret\n');
    const yaml = EXAMPLE.replace('certs/server.crt', 'cert.pem')
      .replace('certs/server.key', 'key.pem')
      .replace(
        '  authority: https://login.microsoftonline.com',
        `  authority: https://login.microsoftonline.com\n  gateway-identity: { client-id: ${GATEWAY_APP.toUpperCase()}, client-secret-file: gw-secret.txt }\n  graph: { recheck-seconds: 10 }`,
      )
      .replace('    password-env: RECORDS_API_PASSWORD\n', '    auth: entra\n')
      .replace('entra-group: 3f6c1a52-0000-0000-0000-000000000000', 'entra-group: sync-agents')
      .replace('recordings:', 'session: { end-at-token-expiry: false }\nrecordings:');
    const config = loadConfigFile(write('lifecycle.yaml', yaml), {});
    assert.equal(config.entra.gatewayIdentity?.clientId, GATEWAY_APP);
    const credential = config.entra.gatewayIdentity?.credential;
    assert.equal(credential?.kind === 'secret' ? credential.secret.reveal() : undefined, 'graph-secret');
    assert.deepEqual(config.entra.graph, {
      endpoint: 'https://graph.microsoft.com',
      cacheMs: 5000,
      recheckMs: 10_000,
      onUnavailable: 'refuse',
      timeoutMs: 5000,
    });
    assert.deepEqual(config.connections.get('records-api')?.auth, {
      kind: 'entra',
      scope: 'https://ossrdbms-aad.database.windows.net/.default',
    });
    assert.deepEqual(config.identityMap[0]?.match, { kind: 'entra-group', groupId: '', groupName: 'sync-agents' });
    assert.equal(config.endAtTokenExpiry, false);
    assert.doesNotMatch(JSON.stringify(config.entra), /graph-secret/);
    const managed = loadConfigFile(
      write('managed.yaml', yaml.replace(/gateway-identity: \{[^}]+\}/, 'gateway-identity: { managed-identity: true }')),
      {},
    );
    assert.deepEqual(managed.entra.gatewayIdentity, { credential: { kind: 'managed-identity' } });
  });

  const cases: [string, (yaml: string) => string, RegExp][] = [
    ['an unknown key', (y) => y.replace('  port: 5433', '  port: 5433\n  prot: 1'), /bad\.yaml: listen: .*prot/],
    ['a missing tenant', (y) => y.replace(/ {2}tenant-id: .*\n/, ''), /bad\.yaml: entra\.tenant-id: /],
    [
      'a tenant that is not a GUID',
      (y) => y.replace('72f988bf-0000-0000-0000-000000000000', 'contoso'),
      /entra\.tenant-id: must be the tenant GUID/,
    ],
    [
      'a plain-http authority',
      (y) => y.replace('https://login.microsoftonline.com', 'http://127.0.0.1:8080'),
      /entra\.authority: must be an https/,
    ],
    [
      'graph without the gateway identity',
      (y) => y.replace('  authority: https://login.microsoftonline.com', '  authority: https://login.microsoftonline.com\n  graph: {}'),
      /entra\.graph: entra\.graph needs entra\.gateway-identity/,
    ],
    [
      'a gateway identity with two credentials',
      (y) =>
        y.replace(
          '  authority: https://login.microsoftonline.com',
          `  authority: https://login.microsoftonline.com\n  gateway-identity: { client-id: ${GATEWAY_APP}, client-secret-env: A, certificate-file: b.pem }`,
        ),
      /entra\.gateway-identity: needs exactly one of client-secret-env, client-secret-file, certificate-file or managed-identity/,
    ],
    [
      'a gateway identity without a client id',
      (y) =>
        y.replace(
          '  authority: https://login.microsoftonline.com',
          '  authority: https://login.microsoftonline.com\n  gateway-identity: { client-secret-env: A }',
        ),
      /entra\.gateway-identity\.client-id: client-id is needed with a secret or a certificate/,
    ],
    [
      'a graph endpoint over plain http',
      (y) =>
        y.replace(
          '  authority: https://login.microsoftonline.com',
          `  authority: https://login.microsoftonline.com\n  gateway-identity: { client-id: ${GATEWAY_APP}, client-secret-env: RECORDS_API_PASSWORD }\n  graph: { endpoint: 'http://graph.example' }`,
        ),
      /entra\.graph\.endpoint: must be an https/,
    ],
    [
      'auth: entra with a password',
      (y) => y.replace('    tls: disable', '    tls: disable\n    auth: entra'),
      /connections\[0\]: auth: entra takes no password/,
    ],
    [
      'auth: entra without the gateway identity',
      (y) => y.replace('    password-env: RECORDS_API_PASSWORD\n', '    auth: entra\n'),
      /connections\[0\]\.auth: auth: entra needs entra\.gateway-identity/,
    ],
    [
      'an unset password variable',
      (y) => y.replace('RECORDS_API_PASSWORD', 'NOT_SET_ANYWHERE'),
      /connections\[0\]\.password-env: environment variable NOT_SET_ANYWHERE is not set/,
    ],
    [
      'a mapping to an unknown connection',
      (y) => y.replace('connection: records-api\n    scope: read', 'connection: nowhere\n    scope: read'),
      /identity-map\[1\]\.connection: no connection named "nowhere"/,
    ],
    [
      'a mapping with both a group and a role',
      (y) =>
        y.replace(
          '  - entra-app-role: Records.Read',
          '  - entra-app-role: Records.Read\n    entra-group: 3f6c1a52-0000-0000-0000-000000000000',
        ),
      /identity-map\[1\]: needs exactly one of entra-group or entra-app-role/,
    ],
    [
      'a group display name without graph',
      (y) => y.replace('entra-group: 3f6c1a52-0000-0000-0000-000000000000', 'entra-group: sync-agents'),
      /identity-map\[0\]\.entra-group: "sync-agents" is not a group object id; a display name needs entra\.graph/,
    ],
    ['a missing TLS file', (y) => y, /listen\.tls\.cert: cannot read certs\/server\.crt/],
    ['a bad upstream TLS mode', (y) => y.replace('tls: disable', 'tls: allow'), /connections\[0\]\.tls: /],
    [
      'an overload lookup that is neither kept-session nor per-login',
      (y) => y.replace('tls: disable', 'tls: disable\n    overload-lookup: cached'),
      /connections\[0\]\.overload-lookup: /,
    ],
    [
      'verify-full without a CA',
      (y) => y.replace('tls: disable', 'tls: verify-full'),
      /connections\[0\]\.ca: tls: verify-full and verify-ca need ca/,
    ],
    [
      'verify-ca without a CA',
      (y) => y.replace('tls: disable', 'tls: verify-ca'),
      /connections\[0\]\.ca: tls: verify-full and verify-ca need ca/,
    ],
    [
      'two password sources',
      (y) => y.replace('    password-env: RECORDS_API_PASSWORD', '    password-env: RECORDS_API_PASSWORD\n    password-file: x'),
      /connections\[0\]: needs exactly one of password-env or password-file/,
    ],
    ['a port out of range', (y) => y.replace('port: 5432', 'port: 70000'), /connections\[0\]\.port: /],
    [
      'an invalid scope',
      (y) => y.replace('scope: write:records', 'scope: wirte:records'),
      /identity-map\[0\]\.scope: "wirte:records": unknown action "wirte"/,
    ],
  ];
  for (const [name, edit, expected] of cases) {
    it(`names the key for ${name}`, () => {
      assert.match(problems(edit(EXAMPLE)), expected);
    });
  }

  it('names the file when it is missing or not YAML', () => {
    assert.throws(() => loadConfigFile(join(dir, 'none.yaml')), /none\.yaml: \(top level\): cannot read the file \(ENOENT\)/);
    assert.match(problems('listen: [unclosed', 'broken.yaml'), /broken\.yaml: \(top level\): not valid YAML/);
    assert.match(problems('', 'empty.yaml'), /empty\.yaml: entra: /);
  });

  it('names identity-map entries: unique, well-formed, and #N with what they match when unnamed', () => {
    const base = EXAMPLE.replace('certs/server.crt', 'cert.pem').replace('certs/server.key', 'key.pem');
    const named = base.replace('  - entra-group: 3f6c1a52', '  - name: records-writers\n    entra-group: 3f6c1a52');
    const config = loadConfigFile(write('named.yaml', named), env);
    assert.deepEqual(
      config.identityMap.map((r) => entryName(r)),
      ['records-writers', '#1 entra-app-role:Records.Read'],
    );
    assert.deepEqual(
      config.identityMap.map((r) => entryRecord(r)),
      ['records-writers (entra-group:3f6c1a52-0000-0000-0000-000000000000)', '#1 entra-app-role:Records.Read'],
    );
    const twice = named.replace('  - entra-app-role: Records.Read', '  - name: records-writers\n    entra-app-role: Records.Read');
    assert.match(problems(twice), /identity-map\[1\]\.name: duplicate entry name "records-writers"/);
    assert.match(
      problems(base.replace('  - entra-group: 3f6c1a52', '  - name: "#0 x"\n    entra-group: 3f6c1a52')),
      /identity-map\[0\]\.name: starts with a letter/,
    );
  });

  it('rejects duplicate connection names', () => {
    const yaml = EXAMPLE.replace(
      'identity-map:',
      '  - name: records-api\n    host: h\n    database: d\n    user: u\n    password-env: RECORDS_API_PASSWORD\nidentity-map:',
    )
      .replace('certs/server.crt', 'cert.pem')
      .replace('certs/server.key', 'key.pem');
    assert.match(problems(yaml), /connections\[1\]\.name: duplicate connection name "records-api"/);
  });
});

function storedPassword(connection: ConnectionConfig | undefined): string | undefined {
  return connection?.auth.kind === 'password' ? connection.auth.password.reveal() : undefined;
}
