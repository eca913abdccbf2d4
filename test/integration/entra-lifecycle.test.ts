import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import type { SimApplication } from '../../src/dev/entra-simulator.js';
import { settleAudit, sessionsJson } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness, READ_ROLE } from '../support/harness.js';

const CACHE_SECONDS = 1;
const RECHECK_SECONDS = 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
type PgError = Error & { code?: string };

/** A connected node-postgres client whose unsolicited end (a FATAL from the gateway) is caught. */
async function connect(h: Harness, token: string): Promise<{ client: pg.Client; ended: Promise<PgError> }> {
  const client = new pg.Client(pgOptions(h, token));
  // node-postgres may follow the FATAL with a second error as the socket closes: keep listening, keep the first.
  const ended = new Promise<PgError>((resolve) => client.on('error', resolve));
  await client.connect();
  return { client, ended };
}

async function refusal(h: Harness, token: string): Promise<PgError | undefined> {
  try {
    const { client } = await connect(h, token);
    await client.end();
    return undefined;
  } catch (e) {
    return e as PgError;
  }
}

/** Polls until a login with this token is refused; returns the refusal and how long it took. */
async function untilRefused(h: Harness, token: string, deadlineMs: number): Promise<{ error: PgError; afterMs: number }> {
  const start = Date.now();
  for (;;) {
    const error = await refusal(h, token);
    if (error !== undefined) return { error, afterMs: Date.now() - start };
    if (Date.now() - start > deadlineMs) throw new Error(`still admitted after ${deadlineMs} ms`);
    await sleep(50);
  }
}

async function endedWithin(ended: Promise<PgError>, ms: number): Promise<PgError> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the session was still open after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([ended, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('Entra lifecycle: disabling an identity ends its access, live sessions included', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ graph: { 'cache-seconds': CACHE_SECONDS, 'recheck-seconds': RECHECK_SECONDS } });
  });
  after(async () => {
    await h.stop();
  });

  it('the documented round trip: connect, disable, refused within the cache window, session ended, re-enable, connect again', async (t: TestContext) => {
    const agent = await h.agent('sync-agent');
    const token = await h.agentToken(agent);
    const { client, ended } = await connect(h, token);
    assert.equal((await client.query('SELECT count(*)::int AS n FROM records')).rows[0].n, 100);

    const disabledAt = Date.now();
    h.entra.directory.setEnabled(agent.appId, false);
    // The old token is still within exp; only Graph can say the identity is disabled.
    const { error, afterMs } = await untilRefused(h, token, CACHE_SECONDS * 1000 + 2000);
    t.diagnostic(`new connection refused ${afterMs} ms after the identity was disabled (cache-seconds ${CACHE_SECONDS})`);
    assert.equal(error.code, '28000');
    assert.match(error.message, /identity disabled in Entra/);

    const fatal = await endedWithin(ended, RECHECK_SECONDS * 1000 + 3000);
    t.diagnostic(`open session ended ${Date.now() - disabledAt} ms after the identity was disabled (recheck-seconds ${RECHECK_SECONDS})`);
    assert.equal(fatal.code, '57P01');
    assert.match(fatal.message, /disabled in Entra/);

    h.entra.directory.setEnabled(agent.appId, true);
    await sleep(CACHE_SECONDS * 1000 + 100);
    const again = await connect(h, token);
    assert.equal((await again.client.query('SELECT 1 AS back')).rows[0].back, 1);
    await again.client.end();
    await client.end().catch(() => undefined);

    await settleAudit(h);
    const sessions = await sessionsJson(h, { identity: agent.appId });
    // The polling logins admitted within the cache window ended themselves; the long session was ended for the identity.
    const reasons = sessions.map((s) => s['endReason']);
    assert.equal(reasons.filter((r) => r === 'identity-disabled').length, 1, reasons.join(', '));
    assert.ok(
      reasons.every((r) => r === 'identity-disabled' || r === 'client-terminated'),
      reasons.join(', '),
    );
  });

  /**
   * The agent's session ends within a recheck once `revoke` takes the grant away in Entra, and its
   * old token (still claiming the grant) no longer maps; the audit log keeps `reason`.
   */
  async function losesGrantedConnection(agent: SimApplication, revoke: () => void, message: RegExp, reason: string): Promise<void> {
    const token = await h.agentToken(agent);
    const { client, ended } = await connect(h, token);
    assert.equal((await client.query('SELECT count(*)::int AS n FROM records')).rows[0].n, 100);
    revoke();
    const fatal = await endedWithin(ended, RECHECK_SECONDS * 1000 + 3000);
    assert.equal(fatal.code, '57P01');
    assert.match(fatal.message, message);
    await client.end().catch(() => undefined);
    await sleep(CACHE_SECONDS * 1000 + 100);
    const error = await refusal(h, token);
    assert.equal(error?.code, '28000');
    assert.match(error?.message ?? '', /not granted connection/);
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: agent.appId });
    assert.equal(session?.['endReason'], reason);
  }

  it('an identity removed from the group loses the connection: its session ends and its old token no longer maps', async () => {
    const agent = await h.agent('grouped-agent');
    await losesGrantedConnection(
      agent,
      () => h.entra.directory.removeMember(h.groupId, agent.objectId),
      /no longer in the Entra group/,
      'membership-revoked',
    );
  });

  it('an identity whose app role is unassigned loses the connection that role granted', async () => {
    const agent = await h.agent('role-agent', [], [READ_ROLE]);
    await losesGrantedConnection(
      agent,
      () => h.entra.directory.removeRole(agent.appId, READ_ROLE),
      /no longer holds the Entra app role/,
      'role-revoked',
    );
  });

  it("two agents, two identities: disabling one leaves the other's sessions untouched", async () => {
    const one = await h.agent('agent-one');
    const two = await h.agent('agent-two');
    const a = await connect(h, await h.agentToken(one));
    const b = await connect(h, await h.agentToken(two));
    const b2 = await connect(h, await h.agentToken(two));
    h.entra.directory.setEnabled(one.appId, false);
    assert.equal((await endedWithin(a.ended, RECHECK_SECONDS * 1000 + 3000)).code, '57P01');
    await h.gateway.recheckNow(); // one more full pass after the first agent's session ended
    for (const c of [b, b2]) assert.equal((await c.client.query('SELECT 2 AS still')).rows[0].still, 2);
    await b.client.end();
    await b2.client.end();
    await a.client.end().catch(() => undefined);
    await settleAudit(h);
  });

  it('a deleted identity is refused like a disabled one', async () => {
    const agent = await h.agent('deleted-agent');
    const token = await h.agentToken(agent);
    h.entra.directory.deleteApplication(agent.appId);
    const error = await refusal(h, token);
    assert.equal(error?.code, '28000');
    assert.match(error?.message ?? '', /identity disabled in Entra/);
  });

  it('lists an agent by the name its tenant gives it (Graph), never by the label it connects with', async () => {
    const agent = await h.agent('invoice-reconciler');
    // An app-only v2 token carries no name claim: only Graph can say what the agent is called.
    for (let i = 0; i < 2; i++) await (await connect(h, await h.agentToken(agent))).client.end();
    const impostor = new pg.Client(pgOptions(h, await h.agentToken(agent), { user: 'ceo-approved-bot' }));
    await impostor.connect();
    const named = await impostor.query("SELECT current_setting('idgate.display_name') AS name");
    assert.equal(named.rows[0].name, 'invoice-reconciler');
    await impostor.end();
    await settleAudit(h);

    assert.deepEqual(await sessionsJson(h, { identity: 'ceo-approved-bot' }), [], 'a label is not an identity');
    const labelled = await sessionsJson(h, { label: 'ceo-approved-bot' });
    assert.equal(labelled.length, 1);
    assert.equal((labelled[0]?.['identity'] as Record<string, unknown>)['displayName'], 'invoice-reconciler');
    assert.equal((await sessionsJson(h, { identity: 'invoice-reconciler' })).length, 3);
    assert.equal((await sessionsJson(h, { identity: agent.appId.toUpperCase() })).length, 3);

    const listed = await idgate(['sessions', '--identity', 'invoice-reconciler', '--db', h.config.recordingsPath]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`invoice-reconciler \\(app ${agent.appId}\\)`));
    assert.doesNotMatch(listed.stdout, /ceo-approved-bot/);
    const shown = await idgate(['show', String(labelled[0]?.['id']), '--db', h.config.recordingsPath]);
    assert.match(shown.stdout, /^identity {3}invoice-reconciler /m);
    assert.match(shown.stdout, /^client .*label: ceo-approved-bot \(its own, not verified\)$/m);
  });

  it('an overage token (groups did not fit) has its groups resolved through Graph', async () => {
    const previous = h.entra.groupsClaimLimit;
    h.entra.groupsClaimLimit = 2;
    try {
      const extra = [h.entra.directory.createGroup('overage-1').id, h.entra.directory.createGroup('overage-2').id];
      const agent: SimApplication = await h.agent('overage-agent', [...extra, h.groupId]);
      const token = await h.agentToken(agent);
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
      assert.equal(claims['groups'], undefined, 'the token carries no groups');
      assert.ok(claims['_claim_names'], 'the token carries the overage pointer');
      const { client } = await connect(h, token);
      assert.equal((await client.query('SELECT 1 AS resolved')).rows[0].resolved, 1);
      await client.end();
      // Out of the mapped group (still in two others): the overage lookup says so.
      h.entra.directory.removeMember(h.groupId, agent.objectId);
      await sleep(CACHE_SECONDS * 1000 + 100);
      assert.match((await refusal(h, token))?.message ?? '', /not granted connection/);
    } finally {
      h.entra.groupsClaimLimit = previous;
    }
  });

  it('a reconnect storm asks Graph once per cache window, not once per login', async () => {
    const agent = await h.agent('storm-agent');
    const token = await h.agentToken(agent);
    await sleep(CACHE_SECONDS * 1000 + 100);
    const before = h.entra.graphRequests;
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect(h, token)));
    const calls = h.entra.graphRequests - before;
    await Promise.all(clients.map((c) => c.client.end()));
    // One service-principal lookup and one membership check, shared by all ten logins (a recheck may add its own).
    assert.ok(calls <= 4, `${calls} Graph calls for 10 logins`);
  });
});

describe('Entra lifecycle: Graph down, token expiry, removed signing keys', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ graph: { 'cache-seconds': 0, 'recheck-seconds': 0.5 }, entra: { 'jwks-refresh-seconds': 0.5 } });
  });
  after(async () => {
    h.entra.graphAvailable = true;
    await h.stop();
  });

  it('fails closed when Graph cannot be asked: new logins refused (57P03), open sessions end after two missed rechecks', async () => {
    const agent = await h.agent('outage-agent');
    const token = await h.agentToken(agent);
    const { client, ended } = await connect(h, token);
    h.entra.graphAvailable = false;
    try {
      const error = await refusal(h, token);
      assert.equal(error?.code, '57P03');
      assert.match(error?.message ?? '', /cannot confirm the identity with Microsoft Graph/);
      const fatal = await endedWithin(ended, 5000);
      assert.equal(fatal.code, '57P01');
      assert.match(fatal.message, /could not confirm the identity/);
    } finally {
      h.entra.graphAvailable = true;
    }
    await client.end().catch(() => undefined);
    const again = await connect(h, token);
    await again.client.end();
    await settleAudit(h);
    const reasons = (await sessionsJson(h, { identity: agent.appId })).map((s) => s['endReason']);
    assert.ok(reasons.includes('identity-unverifiable'), reasons.join(', '));
    const refused = h.logLines.filter((l) => l.includes('identity-check-unavailable'));
    assert.ok(refused.length > 0, 'the refusal is logged with its code');
  });

  it('ends a session when its token expires, with a message that says so', async () => {
    const agent = await h.agent('short-lived-agent');
    const { client, ended } = await connect(h, await h.agentToken(agent, { expiresIn: 2 }));
    assert.equal((await client.query('SELECT 1 AS alive')).rows[0].alive, 1);
    const fatal = await endedWithin(ended, 5000);
    assert.equal(fatal.code, '57P01');
    assert.match(fatal.message, /access token expired/);
    await client.end().catch(() => undefined);
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: agent.appId });
    assert.equal(session?.['endReason'], 'token-expired');
  });

  it('a removed signing key stops verifying after the next refresh, and its sessions end', async () => {
    const agent = await h.agent('old-key-agent');
    const oldToken = await h.agentToken(agent);
    const { client, ended } = await connect(h, oldToken);
    await h.entra.rotateKeys();
    const newToken = await h.agentToken(agent);
    const fresh = await connect(h, newToken); // a new kid is picked up at once
    h.entra.retireOldKeys();
    const fatal = await endedWithin(ended, 5000);
    assert.equal(fatal.code, '57P01');
    assert.match(fatal.message, /key that signed its access token was removed/);
    const error = await refusal(h, oldToken);
    assert.equal(error?.code, '28P01');
    assert.match(error?.message ?? '', /not in the tenant's key set/);
    assert.equal((await fresh.client.query('SELECT 1 AS n')).rows[0].n, 1, 'sessions signed with the new key carry on');
    await fresh.client.end();
    await client.end().catch(() => undefined);
    await settleAudit(h);
    const reasons = (await sessionsJson(h, { identity: agent.appId })).map((s) => s['endReason']);
    assert.deepEqual(reasons.sort(), ['client-terminated', 'signing-key-removed']);
  });
});

describe('Entra lifecycle: what the gateway may be told to do instead', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ graph: { 'on-unavailable': 'allow', 'recheck-seconds': 0.5 }, session: { 'end-at-token-expiry': false } });
  });
  after(async () => {
    h.entra.graphAvailable = true;
    await h.stop();
  });

  it('on-unavailable: allow admits on the token alone while Graph is down, and keeps sessions open', async () => {
    const agent = await h.agent('tolerated-agent');
    const token = await h.agentToken(agent);
    h.entra.graphAvailable = false;
    try {
      const { client } = await connect(h, token);
      await sleep(1500); // three missed rechecks
      assert.equal((await client.query('SELECT 1 AS n')).rows[0].n, 1);
      await client.end();
    } finally {
      h.entra.graphAvailable = true;
    }
    assert.ok(h.logLines.some((l) => l.includes('admitted on the token alone')));
  });

  it('end-at-token-expiry: false keeps a session open past its token', async () => {
    const agent = await h.agent('lingering-agent');
    const { client } = await connect(h, await h.agentToken(agent, { expiresIn: 1 }));
    await sleep(2000);
    assert.equal((await client.query('SELECT 1 AS n')).rows[0].n, 1);
    await client.end();
  });
});
