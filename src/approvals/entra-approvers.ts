import { AccessError } from '../access-error.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { GraphClient } from '../identity/graph-client.js';
import type { ApproverToken } from '../identity/token-verifier.js';
import { ApprovalError } from './approval-error.js';

/** A person the gateway let decide on approvals, proved by their own Entra token. */
export interface EntraApprover {
  readonly objectId: string;
  /** Their sign-in name, recorded as who decided (never a name the caller chose). */
  readonly name: string;
}

export interface ApproverTokens {
  verifyApprover(token: string): Promise<ApproverToken>;
}

/**
 * `approvals.approver-groups`: people in these Entra groups may answer approval requests with
 * their own access token for the gateway's API. Only people: an application's token (what an
 * agent holds) is refused even in the group, so no agent can approve a request — its own or
 * another's. Membership comes from the token's `groups` claim, or from Graph when the token
 * says the groups did not fit (overage); without Graph such a token is refused.
 */
export class EntraApprovers {
  constructor(
    private readonly tokens: ApproverTokens,
    private readonly groups: readonly string[],
    private readonly graph: Pick<GraphClient, 'checkMemberGroups'> | undefined,
  ) {}

  async identify(token: string): Promise<EntraApprover> {
    let t: ApproverToken;
    try {
      t = await this.tokens.verifyApprover(token);
    } catch (e) {
      if (e instanceof AccessError) throw new ApprovalError('approver-token-refused', `the approver's token was refused: ${e.message}`);
      throw e;
    }
    if (t.appOnly) {
      throw new ApprovalError('approver-not-a-person', "an application's token cannot decide on approvals: approvers are people");
    }
    if (!(await this.inGroup(t))) {
      throw new ApprovalError('approver-not-in-group', 'this person is not in approvals.approver-groups');
    }
    return { objectId: t.objectId, name: t.name };
  }

  private async inGroup(t: ApproverToken): Promise<boolean> {
    if (t.groups.some((g) => this.groups.includes(g))) return true;
    if (!t.groupsOverage) return false;
    if (this.graph === undefined) {
      throw new ApprovalError(
        'approver-not-in-group',
        "the token's groups did not fit in it, and without entra.graph they cannot be looked up",
      );
    }
    return (await this.graph.checkMemberGroups(t.objectId, this.groups)).size > 0;
  }
}

/** The approvers of `approvals.approver-groups`, or undefined when none are configured. */
export function entraApprovers(
  config: Pick<GatewayConfig, 'approvals'>,
  entra: { readonly verifier: ApproverTokens; readonly graph: Pick<GraphClient, 'checkMemberGroups'> | undefined },
): EntraApprovers | undefined {
  const groups = config.approvals.approverGroups;
  return groups.length === 0 ? undefined : new EntraApprovers(entra.verifier, groups, entra.graph);
}
