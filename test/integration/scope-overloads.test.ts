import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness, recordsConnection } from '../support/harness.js';
import { loginUpstream } from '../../protocols/postgres/upstream/login-upstream.js';
import { querySession } from '../../protocols/postgres/upstream/session-query.js';
import { SHADOWED_BUILTINS_QUERY } from '../../protocols/postgres/policy/shadowed-builtins.js';
import { endpointOf, LOOKUP_APPLICATION_NAME, OverloadLookups } from '../../protocols/postgres/upstream/overload-lookups.js';
import { readShadowedBuiltins } from '../../protocols/postgres/upstream/read-shadowed-builtins.js';
import { createLogger } from '../../src/logging/logger.js';
import { encodeNoticeResponse } from '../../protocols/postgres/wire/backend-messages.js';
import { TERMINATE } from '../../protocols/postgres/wire/frontend-messages.js';

const CANARY = 'OVERLOADCANARY';
const READ_RECORDS = 'Scope.ReadRecords';

/**
 * Functions and operators resolve by name and argument types: an overload of a built-in name in a
 * schema of the search path (`public.lower(integer)`, `public.||(text, integer)`) is what the
 * server calls for `lower(1)` or `title || 1`. A scoped session refuses those names (they count
 * as user-defined for it); an extension's overloads (citext) do not shadow.
 */
/** A connection whose scoped logins each ask their own session (no kept lookup session). */
const PER_LOGIN = 'records-per-login';

describe('built-in names overloaded on the search path, against a real server', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      identityMap: [
        { 'entra-app-role': READ_RECORDS, connection: CONNECTION, scope: 'read:records' },
        { 'entra-app-role': READ_RECORDS, connection: PER_LOGIN, scope: 'read:records' },
      ],
      connections: (cluster) => [recordsConnection(cluster, PER_LOGIN, { 'overload-lookup': 'per-login' })],
    });
    await h.cluster.sql(
      [
        'CREATE EXTENSION citext',
        'CREATE TABLE secrets (id int, name text)',
        `INSERT INTO secrets VALUES (1, '${CANARY}')`,
        "CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS 'SELECT name FROM secrets LIMIT 1'",
        "CREATE FUNCTION public.cat_leak(text, integer) RETURNS text LANGUAGE sql AS 'SELECT name FROM secrets LIMIT 1'",
        'CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = integer, FUNCTION = public.cat_leak)',
        'GRANT SELECT ON secrets TO sync_writer',
      ].join('; '),
      'records',
    );
  });
  after(async () => {
    await h.stop();
  });

  async function client(roles: string[]): Promise<pg.Client> {
    const c = new pg.Client(pgOptions(h, await h.token({ groups: roles.length === 0 ? [h.groupId] : [], roles })));
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  const failure = (c: pg.Client, sql: string | pg.QueryConfig): Promise<{ code?: string; message: string } | undefined> =>
    c.query(sql).then(
      () => undefined,
      (e: { code?: string; message: string }) => e,
    );

  it('the server itself calls the overloads: scope all reads the canary through them', async () => {
    const c = await client([]);
    try {
      assert.equal((await c.query<{ v: string }>('SELECT lower(1) AS v')).rows[0]?.v, CANARY);
      assert.equal((await c.query<{ v: string }>("SELECT 'x' || 1 AS v")).rows[0]?.v, CANARY);
    } finally {
      await c.end();
    }
  });

  for (const mode of ['simple', 'extended'] as const) {
    it(`under read:records, refuses the overloaded names (${mode}) and the session goes on`, async () => {
      const c = await client([READ_RECORDS]);
      const run = (sql: string): Promise<{ code?: string; message: string } | undefined> =>
        failure(c, mode === 'simple' ? sql : ({ text: sql, queryMode: 'extended' } as pg.QueryConfig));
      try {
        for (const sql of ['SELECT lower(1)', 'SELECT lower(title) FROM records', 'SELECT title || 1 FROM records', "SELECT 'x' || 'y'"]) {
          const error = await run(sql);
          assert.equal(error?.code, '42501', `${sql}: ${error?.message}`);
          assert.match(error?.message ?? '', /a schema on the search path overloads this built-in name/);
          assert.ok(!(error?.message ?? '').includes(CANARY));
        }
        // Names nothing overloads, pg_catalog's own by name, and citext's overloads (an extension's) stay allowed.
        assert.equal(await run('SELECT upper(title) FROM records WHERE id = 1'), undefined);
        assert.equal(
          await run("SELECT pg_catalog.lower(title), replace(title, 'a', 'b') FROM records WHERE id BETWEEN 1 AND 2"),
          undefined,
        );
        assert.equal(await run("SELECT 'A'::text = 'a'::text"), undefined);
      } finally {
        await c.end();
      }
    });
  }

  it('the lookup keeps for the client what the server sent besides its replies, and refuses the session on a server error', async () => {
    const connection = h.config.connections.get(CONNECTION);
    assert.ok(connection);
    const session = await loginUpstream(connection, new Map([['application_name', 'idgate test']]));
    try {
      // A NOTICE the server sent right after its login's ReadyForQuery, not read yet: the client's, in order.
      const notice = encodeNoticeResponse({ severity: 'NOTICE', sqlstate: '00000', message: 'for the client' });
      const answer = await querySession({ ...session, leftover: notice }, 'SELECT 1 AS one', 5000, 'test query');
      assert.deepEqual(answer.rows, [['1']]);
      assert.deepEqual(answer.session.leftover, notice);
      await assert.rejects(querySession(answer.session, 'SELECT * FROM no_such_table', 5000, 'test query'), {
        code: 'upstream-rejected',
        message: /refused the gateway's test query: 42P01/,
      });
    } finally {
      session.socket.end(TERMINATE);
    }
  });

  /**
   * The lookup's rules, each against the server's own catalog: in a transaction that is rolled
   * back, an extension member is made volatile or SECURITY DEFINER, an extension's aggregate is
   * given a support function that is neither the extension's nor pg_catalog's, and the lookup must
   * name what that turned into someone else's code — and nothing of citext's while it is intact.
   */
  it('counts an extension’s members as trusted only while they are not volatile, not SECURITY DEFINER, and aggregate trusted code', async () => {
    const c = new pg.Client({
      host: h.cluster.host,
      port: h.cluster.port,
      user: h.cluster.superuser,
      password: h.cluster.superuserPassword,
      database: 'records',
    });
    await c.connect();
    const lookup = async (): Promise<string[]> =>
      (await c.query<{ kind: string; overload: string }>(SHADOWED_BUILTINS_QUERY)).rows.map((r) => `${r.kind} ${r.overload}`).sort();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL search_path = public');
      const intact = await lookup();
      assert.ok(intact.includes('function public.lower(integer)'), intact.join(', '));
      assert.deepEqual(
        intact.filter((row) => row.includes('citext')),
        [],
        'citext, intact, is trusted',
      );
      await c.query('ALTER FUNCTION public.citext_eq(citext, citext) VOLATILE');
      await c.query('ALTER FUNCTION public.replace(citext, citext, citext) SECURITY DEFINER');
      await c.query('ALTER FUNCTION public.citext_larger(citext, citext) VOLATILE');
      await c.query("CREATE FUNCTION public.own_smaller(citext, citext) RETURNS citext IMMUTABLE LANGUAGE sql AS 'SELECT $1'");
      await c.query('CREATE AGGREGATE public.bit_or(citext) (SFUNC = public.own_smaller, STYPE = citext)');
      await c.query('ALTER EXTENSION citext ADD AGGREGATE public.bit_or(citext)');
      const changed = await lookup();
      for (const row of [
        'operator public.=(citext, citext)',
        'function public.replace(citext, citext, citext)',
        'function public.max(citext)',
        'function public.bit_or(citext)',
      ]) {
        assert.ok(changed.includes(row), `${row} in ${changed.join(', ')}`);
      }
      assert.ok(!changed.includes('function public.min(citext)'), 'min(citext) still aggregates citext’s own code');
      assert.ok(!changed.includes('operator public.<>(citext, citext)'), 'citext’s other operators stay trusted');
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    }
  });

  const keptSessions = async (): Promise<string> =>
    h.cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${LOOKUP_APPLICATION_NAME}'`, 'records');

  /** `/metrics`' count of a connection's scoped logins' lookups answered by the kept session, or by their own. */
  const lookups = async (answeredBy: 'kept' | 'own', connection = CONNECTION): Promise<number> => {
    const text = await h.gateway.services.metrics.registry.metrics();
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('idgate_overload_lookups_total{') &&
          l.includes(`answered_by="${answeredBy}"`) &&
          l.includes(`connection="${connection}"`),
      );
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('answers every login from a lookup that starts after it began, on one kept session per connection', async () => {
    const allowed = async (sql: string): Promise<boolean> => {
      const c = await client([READ_RECORDS]);
      try {
        const error = await failure(c, sql);
        if (error !== undefined) assert.equal(error.code, '42501', error.message);
        return error === undefined;
      } finally {
        await c.end();
      }
    };
    const sql = 'SELECT upper(title) FROM records WHERE id = 1';
    assert.equal(await allowed(sql), true);
    await h.cluster.sql("CREATE FUNCTION public.upper(integer) RETURNS text LANGUAGE sql AS 'SELECT name FROM secrets LIMIT 1'", 'records');
    try {
      // Created just before the login, with the kept session warm from the one above: seen.
      assert.equal(await allowed(sql), false);
    } finally {
      await h.cluster.sql('DROP FUNCTION public.upper(integer)', 'records');
    }
    assert.equal(await allowed(sql), true);
    // Logins at once share the kept session's queries: one more backend, not one per login.
    const [keptBefore, ownBefore] = [await lookups('kept'), await lookups('own')];
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => client([READ_RECORDS])));
    try {
      // The sessions' own backends were not asked (they ran nothing yet): the kept session's answer was used.
      const askedThemselves = await h.cluster.sql(
        `SELECT count(*) FROM pg_stat_activity WHERE usename = 'sync_writer' AND application_name <> '${LOOKUP_APPLICATION_NAME}'
           AND query LIKE '%current_schemas%'`,
        'records',
      );
      assert.equal(askedThemselves, '0');
      assert.deepEqual([(await lookups('kept')) - keptBefore, (await lookups('own')) - ownBefore], [5, 0]);
      for (const c of clients) assert.equal((await failure(c, 'SELECT lower(1)'))?.code, '42501');
      assert.equal(await keptSessions(), '1');
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('a kept session whose backend went away is replaced, and the login meanwhile still knows its overloads', async () => {
    await h.cluster.sql(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${LOOKUP_APPLICATION_NAME}'`,
      'records',
    );
    for (let i = 0; i < 3; i++) {
      const c = await client([READ_RECORDS]);
      try {
        assert.equal((await failure(c, 'SELECT lower(1)'))?.code, '42501');
        assert.equal(await failure(c, 'SELECT upper(title) FROM records WHERE id = 1'), undefined);
      } finally {
        await c.end();
      }
    }
    assert.equal(await keptSessions(), '1');
  });

  it('with overload-lookup: per-login, each scoped login asks its own session, and no session is kept for it', async () => {
    const before = await keptSessions();
    const clients = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new pg.Client(pgOptions(h, await h.token({ roles: [READ_RECORDS] }), { database: PER_LOGIN }));
        c.on('error', () => undefined);
        await c.connect();
        return c;
      }),
    );
    try {
      for (const c of clients) assert.equal((await failure(c, 'SELECT lower(1)'))?.code, '42501');
      assert.deepEqual([await lookups('kept', PER_LOGIN), await lookups('own', PER_LOGIN)], [0, 3]);
      // No kept session was opened for it (the other connection's may close meanwhile, when idle for 30 s).
      assert.ok(Number(await keptSessions()) <= Number(before));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('a kept session that stops answering is replaced and asked again at once: the login still gets the kept answer', async () => {
    const connection = h.config.connections.get(CONNECTION);
    assert.ok(connection);
    // A TCP relay to the server whose existing connections can be made to go silent (a dead link, a hung backend).
    const links: [Socket, Socket][] = [];
    const relay = createServer((near) => {
      const far = connect(h.cluster.port, h.cluster.host);
      for (const socket of [near, far]) socket.on('error', () => undefined);
      near.pipe(far).pipe(near);
      links.push([near, far]);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const lookups = new OverloadLookups(createLogger('silent'));
    const via = { ...connection, port: (relay.address() as AddressInfo).port, connectTimeoutMs: 2000 };
    try {
      const first = await lookups.ask(via);
      assert.ok(first.rows.some((row) => row[1] === 'lower'));
      for (const [near, far] of links) {
        near.unpipe(far);
        far.unpipe(near);
      }
      // The silent one is given up after the answer time (1 s) and a fresh one asked at once, not after the 10 s rest.
      const second = await lookups.ask(via);
      assert.deepEqual(second.rows, first.rows);
      assert.equal(links.length, 2, 'one more session was opened for the answer');
    } finally {
      lookups.close();
      relay.close();
      for (const link of links) for (const socket of link) socket.destroy();
    }
  });

  it('without the kept session’s answer a login asks its own session, and with it asks nothing more', async () => {
    const connection = h.config.connections.get(CONNECTION);
    assert.ok(connection);
    const unreachable = new OverloadLookups(createLogger('silent'));
    const nowhere = { ...connection, port: 1, connectTimeoutMs: 2000 };
    await assert.rejects(unreachable.ask(nowhere), { code: 'upstream-unreachable' });
    // After a failure the kept session is not tried again with every login for a while.
    await assert.rejects(unreachable.ask(nowhere), /failed a moment ago/);
    unreachable.close();
    const session = await loginUpstream(connection, new Map([['search_path', 'public']]));
    try {
      const major = Number(session.parameters.get('server_version')?.split('.')[0]);
      const own = await readShadowedBuiltins(session, 5000, major, Promise.resolve(undefined));
      assert.ok(own.shadows.functions.has('lower'));
      assert.equal(own.answeredBy, 'own');
      // Given rows, the session itself is not asked: nothing is written to it, it comes back as it was.
      const rows = [['function', 'upper', 'public.upper(integer)']];
      const given = await readShadowedBuiltins(own.session, 5000, major, Promise.resolve({ rows, endpoint: endpointOf(own.session) }));
      assert.deepEqual([...given.shadows.functions], ['upper']);
      assert.equal(given.session, own.session);
      assert.equal(given.answeredBy, 'kept');
      // An answer from another server than the session's (a replica of the same name) is not used: the session is asked.
      const elsewhere = await readShadowedBuiltins(own.session, 5000, major, Promise.resolve({ rows, endpoint: '192.0.2.1:5432' }));
      assert.ok(elsewhere.shadows.functions.has('lower') && !elsewhere.shadows.functions.has('upper'));
      assert.equal(elsewhere.answeredBy, 'own');
    } finally {
      session.socket.end(TERMINATE);
    }
  });

  it('reads the overloads of each session’s own search path when it starts: one dropped is allowed again', async () => {
    await h.cluster.sql('DROP OPERATOR public.|| (text, integer)', 'records');
    const c = await client([READ_RECORDS]);
    try {
      assert.equal(await failure(c, "SELECT 'x' || 'y'"), undefined);
      assert.equal((await failure(c, 'SELECT lower(1)'))?.code, '42501');
    } finally {
      await c.end();
    }
  });
});
