import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSameDatabase, parsePostgresUrl, redact } from '../../../src/cli/replay-target.js';

const NO_ENV = { PGSSLROOTCERT: '/nonexistent/root.crt' };
const read = (url: string, env: NodeJS.ProcessEnv = NO_ENV): ReturnType<typeof parsePostgresUrl> => parsePostgresUrl(url, '--target', env);

describe('PostgreSQL URLs read by libpq’s rules', () => {
  it('reads user, password, host, port and database, percent-decoded, with both schemes', () => {
    for (const scheme of ['postgres', 'postgresql']) {
      const c = read(`${scheme}://app%40x:p%3Ass@db.example:6543/my%20db`);
      assert.deepEqual(
        [c.user, c.auth.kind === 'password' && c.auth.password.reveal(), c.host, c.port, c.database],
        ['app@x', 'p:ss', 'db.example', 6543, 'my db'],
      );
    }
  });

  it('takes an empty host with host=/socket/dir in the query as a Unix-domain socket', () => {
    const c = read('postgresql://u@/db?host=/run/postgresql');
    assert.deepEqual([c.host, c.port, c.database, c.user], ['/run/postgresql', 5432, 'db', 'u']);
    const defaulted = read('postgresql://u@/db');
    assert.ok(defaulted.host.startsWith('/'), 'no host at all means the default socket directory');
  });

  it('lets query parameters override the URL’s parts, and the environment fill what neither says', () => {
    const c = read('postgres://u:p@h:1/d?port=2&dbname=e&user=v&password=q&host=g', NO_ENV);
    assert.deepEqual([c.host, c.port, c.database, c.user, c.auth.kind === 'password' && c.auth.password.reveal()], ['g', 2, 'e', 'v', 'q']);
    const env = read('postgres://', {
      ...NO_ENV,
      PGHOST: 'envhost',
      PGPORT: '7000',
      PGUSER: 'envuser',
      PGPASSWORD: 'envpw',
      PGDATABASE: 'envdb',
    });
    assert.deepEqual([env.host, env.port, env.database, env.user], ['envhost', 7000, 'envdb', 'envuser']);
    assert.equal(read('postgres://alice@h').database, 'alice', 'the database defaults to the user');
  });

  it('reads IPv6 hosts in brackets', () => {
    const c = read('postgres://u@[::1]:5433/d');
    assert.deepEqual([c.host, c.port], ['::1', 5433]);
  });

  it('defaults sslmode to prefer, as libpq does, and knows every mode', () => {
    assert.equal(read('postgres://u@h/d').tls, 'prefer');
    assert.equal(read('postgres://u@h/d', { ...NO_ENV, PGSSLMODE: 'disable' }).tls, 'disable');
    for (const mode of ['disable', 'prefer', 'require'] as const) assert.equal(read(`postgres://u@h/d?sslmode=${mode}`).tls, mode);
    assert.throws(() => read('postgres://u@h/d?sslmode=verify-full'), /needs a root certificate/);
    assert.throws(() => read('postgres://u@h/d?sslmode=allow'), /allow is not supported/);
    assert.throws(() => read('postgres://u@h/d?sslmode=sometimes'), /not one of/);
  });

  it('refuses what is not a PostgreSQL URL, or several hosts, without echoing a password', () => {
    assert.throws(
      () => read('mysql://u:secret@h/d'),
      (e: Error) => /not a postgres/.test(e.message) && !e.message.includes('secret'),
    );
    assert.throws(() => read('postgres://u@h1,h2/d'), /several hosts/);
    assert.throws(() => read('postgres://u@h:99999/d'), /not a port number/);
    assert.equal(redact('postgres://u:secret@h/d?password=also'), 'postgres://u:***@h/d?password=***');
  });
});

describe('the replay’s same-database guard', () => {
  it('takes a Unix-domain socket for the loopback upstream on the same port', () => {
    assert.equal(isSameDatabase(read('postgresql://u@/records?host=/run/postgresql&port=5432'), '127.0.0.1:5432/records'), true);
    assert.equal(isSameDatabase(read('postgresql://u@/staging?host=/run/postgresql&port=5432'), '127.0.0.1:5432/records'), false);
  });
});
