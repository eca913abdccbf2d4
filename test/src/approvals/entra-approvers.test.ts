import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessError } from '../../../src/access-error.js';
import { ApprovalError } from '../../../src/approvals/approval-error.js';
import { EntraApprovers } from '../../../src/approvals/entra-approvers.js';
import type { ApproverToken } from '../../../src/identity/token-verifier.js';

const GROUP = 'a9f0c3d2-5b1e-4c7a-8d2f-6e3b1a0c9d47';
const person: ApproverToken = { objectId: 'oid-1', name: 'alice@contoso.example', appOnly: false, groups: [GROUP], groupsOverage: false };

/** Token verification itself is tested against the Entra simulator (test/integration/approvers.test.ts); this is what follows it. */
function approvers(token: ApproverToken | Error, member: readonly string[] | undefined): EntraApprovers {
  const tokens = { verifyApprover: () => (token instanceof Error ? Promise.reject(token) : Promise.resolve(token)) };
  const graph =
    member === undefined
      ? undefined
      : { checkMemberGroups: (_oid: string, ids: readonly string[]) => Promise.resolve(new Set(ids.filter((g) => member.includes(g)))) };
  return new EntraApprovers(tokens, [GROUP], graph);
}
const refusedWith = (code: string) => (e: unknown) => e instanceof ApprovalError && e.code === code;

describe('Entra approvers', () => {
  it('admits a person of an approver group by the token’s name', async () => {
    assert.deepEqual(await approvers(person, undefined).identify('t'), { objectId: 'oid-1', name: 'alice@contoso.example' });
  });

  it('refuses an application, a person outside the groups, and a token that did not verify', async () => {
    await assert.rejects(approvers({ ...person, appOnly: true }, undefined).identify('t'), refusedWith('approver-not-a-person'));
    await assert.rejects(approvers({ ...person, groups: ['other'] }, undefined).identify('t'), refusedWith('approver-not-in-group'));
    await assert.rejects(
      approvers(new AccessError('token-expired', 'token has expired'), undefined).identify('t'),
      refusedWith('approver-token-refused'),
    );
  });

  it('asks Graph when the groups did not fit in the token, and refuses such a token without Graph', async () => {
    const overage = { ...person, groups: [], groupsOverage: true };
    assert.equal((await approvers(overage, [GROUP]).identify('t')).objectId, 'oid-1');
    await assert.rejects(approvers(overage, ['another']).identify('t'), refusedWith('approver-not-in-group'));
    await assert.rejects(approvers(overage, undefined).identify('t'), refusedWith('approver-not-in-group'));
  });
});
