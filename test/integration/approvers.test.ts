import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { sessionsJson, settleAudit, showJson } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

const APPROVERS = 'a9f0c3d2-5b1e-4c7a-8d2f-6e3b1a0c9d47';
const DELETES_APPROVED = 'Records.DeletesApproved';
type PgError = Error & { code?: string };

/**
 * Approvers who are people, proved by their own Entra tokens (`approvals.approver-groups`), and
 * two of them required (`approvals.approvers-required: 2`): an application's token — an agent's —
 * never decides, a person outside the group neither, no one twice, no one on their own request.
 */
describe('approvers proved by Entra, two required', () => {
  let h: Harness;
  let base: string;
  const person = (name: string, claims: Record<string, unknown> = {}): Promise<string> =>
    h.token({
      oid: randomUUID(),
      idtyp: 'user',
      scp: 'access_as_user',
      preferred_username: `${name}@contoso.example`,
      name,
      groups: [APPROVERS],
      ...claims,
    });
  const call = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const approve = (id: string, token: string, reason = 'checked the ticket', extra: Record<string, unknown> = {}) =>
    call('POST', `/approvals/${id}/approve`, token, { reason, ...extra });

  before(async () => {
    h = await Harness.start({
      admin: { host: '127.0.0.1', port: 0, 'token-env': 'IDGATE_ADMIN_TOKEN' },
      env: { IDGATE_ADMIN_TOKEN: 'approvers-admin-token-0123456789' },
      entra: { 'allow-user-tokens': true },
      approvals: { 'approvers-required': 2, 'approver-groups': [APPROVERS] },
      identityMap: [
        {
          name: 'careful-deleters',
          'entra-app-role': DELETES_APPROVED,
          connection: CONNECTION,
          scope: 'read write:records approve:delete',
        },
        // People may connect too (allow-user-tokens): one in the approver group asks, and must not answer itself.
        { name: 'people', 'entra-group': APPROVERS, connection: CONNECTION, scope: 'read write:records approve:delete' },
      ],
    });
    base = `http://127.0.0.1:${h.gateway.admin?.port ?? 0}`;
  });
  after(async () => {
    await h.stop();
  });

  /** Connects with `token`, sends `sql`, and returns the request id of its IGA01 (or the result when it ran). */
  async function send(token: string, sql: string): Promise<{ id?: string; rowCount?: number | null }> {
    const c = new pg.Client(pgOptions(h, token));
    await c.connect();
    try {
      const r = await c.query(sql);
      return { rowCount: r.rowCount };
    } catch (e) {
      const err = e as PgError;
      assert.equal(err.code, 'IGA01', err.message);
      return { id: /request ([0-9a-f]{12})/.exec(err.message)?.[1] ?? '' };
    } finally {
      await c.end();
    }
  }

  it('takes a decision only from people of the approver groups, each once, and runs the statement after the second', async () => {
    const agentToken = await h.token({ groups: [], roles: [DELETES_APPROVED] });
    const { id } = await send(agentToken, 'DELETE FROM records WHERE id = 21');
    assert.ok(id);

    // An application's token in the approver group — what an agent holds — is not a person's.
    const app = await call('POST', `/approvals/${id}/approve`, await h.token({ groups: [APPROVERS] }), { reason: 'bot says yes' });
    assert.deepEqual([app.status, app.json['error']], [403, 'approver-not-a-person']);
    const outsider = await approve(id, await person('mallory', { groups: [] }));
    assert.deepEqual([outsider.status, outsider.json['error']], [403, 'approver-not-in-group']);
    const forged = await approve(id, `${(await person('eve')).slice(0, -4)}AAAA`);
    assert.deepEqual([forged.status, forged.json['error']], [401, 'approver-token-refused']);
    const expired = await approve(
      id,
      await h.entra.mint({ aud: 'api://idgate-test', idtyp: 'user', scp: 'x', groups: [APPROVERS] }, { expiresIn: -600 }),
    );
    assert.deepEqual([expired.status, expired.json['error']], [401, 'approver-token-refused']);

    const aliceId = randomUUID();
    const alice = await person('alice', { oid: aliceId });
    // A person's token opens the approvals, nothing else of the endpoint.
    assert.equal((await call('GET', '/approvals', alice)).status, 200);
    assert.equal((await call('GET', '/sessions', alice)).status, 401);
    const first = await approve(id, alice, 'ticket OPS-7', { by: 'the-cfo' });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const view = first.json['approval'] as Record<string, unknown>;
    assert.equal(view['state'], 'pending', 'one approval of two');
    assert.deepEqual(
      (view['approvals'] as Record<string, unknown>[]).map((a) => [a['by'], String(a['via']).startsWith('entra-user:')]),
      [['alice@contoso.example', true]],
      'recorded as who the token says, not who the body claims',
    );
    // Alice again, with a fresh token: the same person, whatever the token.
    const twice = await approve(id, await person('alice', { oid: aliceId }));
    assert.deepEqual([twice.status, twice.json['error']], [409, 'approver-already-approved']);
    assert.equal((await send(agentToken, 'DELETE FROM records WHERE id = 21')).id, id, 'not admitted on one approval');
    const listed = await idgate(['approvals', '--admin', base, '--token-env', 'ALICE_TOKEN'], { ALICE_TOKEN: alice });
    assert.match(listed.stdout, new RegExp(`${id}\\s+pending, approved by alice@contoso\\.example`), listed.stdout);

    const second = await approve(id, await person('bob'), 'second pair of eyes');
    assert.equal((second.json['approval'] as Record<string, unknown>)['state'], 'approved');
    assert.equal((await send(agentToken, 'DELETE FROM records WHERE id = 21')).rowCount, 1);

    await settleAudit(h);
    const ran = (await sessionsJson(h, { connection: CONNECTION })).at(-1);
    const notes = (await showJson(h, String(ran?.['id']))).filter((l) => l['type'] === 'note' && l['kind'] === 'ApprovalUsed');
    assert.match(
      String(notes[0]?.['detail']),
      /approved by alice@contoso\.example \(entra-user:[0-9a-f-]+, from [^)]+\) at \S+: ticket OPS-7; and by bob@contoso\.example \(entra-user:[0-9a-f-]+, from [^)]+\) at \S+: second pair of eyes/,
    );
  });

  it('lets no person decide on a request they made themselves', async () => {
    const carolId = randomUUID();
    const carol = await person('carol', { oid: carolId });
    const { id } = await send(carol, 'DELETE FROM records WHERE id = 22');
    assert.ok(id);
    for (const path of [`/approvals/${id}/approve`, `/approvals/${id}/refuse`]) {
      const self = await call('POST', path, carol, { reason: 'mine' });
      assert.deepEqual([self.status, self.json['error']], [409, 'approval-self']);
    }
    // A person decides from the CLI with their own token.
    const refused = await idgate(['refuse', id ?? '', '--reason', 'not today', '--admin', base, '--token-env', 'DAN_TOKEN'], {
      DAN_TOKEN: await person('dan'),
    });
    assert.equal(refused.code, 0, refused.stderr);
    const answered = (await call('GET', '/approvals', carol)).json['approvals'] as Record<string, unknown>[];
    const mine = answered.find((a) => a['id'] === id);
    assert.equal(mine?.['state'], 'refused', 'one refusal decides');
    assert.equal((mine?.['decision'] as Record<string, unknown>)['by'], 'dan@contoso.example');
  });
});
