import { AccessError } from '../access-error.js';
import type { GraphConfig } from '../config/gateway-config.js';
import type { Logger } from '../logging/logger.js';
import { ExpiringCache } from './expiring-cache.js';
import { GraphUnavailableError, type GraphClient, type ServicePrincipalStatus } from './graph-client.js';
import type { VerifiedIdentity } from './verified-identity.js';
import { isGuid } from '../config/schema.js';

/** What Graph says of an identity now. */
export type IdentityState = 'enabled' | 'disabled' | 'deleted';

/**
 * Asks Microsoft Graph what a signature cannot say: whether the identity behind a token is still
 * enabled, whether it is still in a group, and which groups an overage token stands for. Answers
 * are reused for `cache-seconds`. When Graph cannot answer, `on-unavailable` decides: refuse
 * (the default: fail closed) or carry on with what the token says.
 */
export class LiveRevocation {
  private readonly states: ExpiringCache<ServicePrincipalStatus | undefined>;
  private readonly groups: ExpiringCache<string[]>;
  private readonly memberships: ExpiringCache<Set<string>>;
  private readonly apiRoles: ExpiringCache<{ readonly objectId: string; readonly roles: ReadonlyMap<string, string> } | undefined>;
  private readonly assignments: ExpiringCache<{ readonly appRoleId: string; readonly resourceId: string }[]>;

  constructor(
    private readonly graph: GraphClient,
    readonly config: GraphConfig,
    private readonly logger: Logger,
  ) {
    this.states = new ExpiringCache(config.cacheMs);
    this.groups = new ExpiringCache(config.cacheMs);
    this.memberships = new ExpiringCache(config.cacheMs);
    this.apiRoles = new ExpiringCache(config.cacheMs);
    this.assignments = new ExpiringCache(config.cacheMs);
  }

  get failClosed(): boolean {
    return this.config.onUnavailable === 'refuse';
  }

  /**
   * At login, after the token verified: refuses a disabled or deleted identity, fills in the groups
   * of an overage token, and drops claimed groups among `mappedGroups` (those the identity-map could
   * grant with) that Graph says the identity has left — a token's groups are only as fresh as the
   * token, and an agent removed from a group must not get back in with its old one. Returns the
   * identity the identity-map is to judge.
   */
  async admit(identity: VerifiedIdentity, mappedGroups: readonly string[], mappedRoles: readonly string[] = []): Promise<VerifiedIdentity> {
    const subject = { objectId: identity.objectId, appId: identity.appId };
    let principal: ServicePrincipalStatus | undefined;
    try {
      principal = await this.principal(identity.appId);
    } catch (e) {
      return this.unavailable(e, identity, subject);
    }
    const state = stateOf(principal);
    if (principal === undefined || state !== 'enabled') {
      throw new AccessError('identity-disabled', 'identity disabled in Entra', stateDetail(identity.appId, state), undefined, subject);
    }
    try {
      return await this.confirmRoles(await this.confirmGroups(named(identity, principal), mappedGroups), mappedRoles);
    } catch (e) {
      return this.unavailable(e, identity, subject);
    }
  }

  private async confirmGroups(identity: VerifiedIdentity, mappedGroups: readonly string[]): Promise<VerifiedIdentity> {
    if (identity.groupsOverage) return { ...identity, groups: await this.memberGroups(identity.objectId) };
    const claimed = identity.groups.filter((g) => mappedGroups.includes(g));
    if (claimed.length === 0) return identity;
    const still = await this.checkMembership(identity.objectId, claimed);
    return { ...identity, groups: identity.groups.filter((g) => !claimed.includes(g) || still.has(g)) };
  }

  /** Claimed app roles the identity-map uses are kept only if Graph still shows them assigned. */
  private async confirmRoles(identity: VerifiedIdentity, mappedRoles: readonly string[]): Promise<VerifiedIdentity> {
    const claimed = identity.roles.filter((r) => mappedRoles.includes(r));
    if (claimed.length === 0) return identity;
    const held = await this.heldRoles(identity.objectId, identity.audience);
    if (held === undefined) return identity;
    return { ...identity, roles: identity.roles.filter((r) => !claimed.includes(r) || held.has(r)) };
  }

  /**
   * The app roles (values) the service principal is assigned on the API the token is for, or
   * undefined when that cannot be asked: the audience is not the API's client id (a v1 token naming
   * the App ID URI), so role rechecks need `accessTokenAcceptedVersion: 2`.
   */
  async heldRoles(objectId: string, audience: string): Promise<Set<string> | undefined> {
    if (!isGuid(audience)) return undefined;
    const api = await this.apiRoles.get(audience, () => this.graph.apiAppRoles(audience));
    if (api === undefined) return new Set();
    const assigned = await this.assignments.get(objectId, () => this.graph.appRoleAssignments(objectId));
    const ids = new Set(assigned.filter((a) => a.resourceId === api.objectId).map((a) => a.appRoleId));
    return new Set([...api.roles].filter(([, id]) => ids.has(id)).map(([value]) => value));
  }

  /** Whether the application's service principal exists and is enabled (cached). */
  async state(appId: string): Promise<IdentityState> {
    return stateOf(await this.principal(appId));
  }

  private principal(appId: string): Promise<ServicePrincipalStatus | undefined> {
    return this.states.get(appId, () => this.graph.servicePrincipal(appId));
  }

  /** All groups of the service principal, for a token whose groups did not fit (cached). */
  memberGroups(objectId: string): Promise<string[]> {
    return this.groups.get(objectId, () => this.graph.memberGroups(objectId));
  }

  /** Which of these groups the service principal is still in (cached). */
  checkMembership(objectId: string, groupIds: readonly string[]): Promise<Set<string>> {
    const sorted = [...new Set(groupIds)].sort();
    return this.memberships.get(`${objectId} ${sorted.join(',')}`, () => this.graph.checkMemberGroups(objectId, sorted));
  }

  private unavailable(e: unknown, identity: VerifiedIdentity, subject: { objectId: string; appId: string }): VerifiedIdentity {
    if (!(e instanceof GraphUnavailableError)) throw e;
    if (this.failClosed) {
      throw new AccessError(
        'identity-check-unavailable',
        'the gateway cannot confirm the identity with Microsoft Graph: refused until it can',
        undefined,
        e.message,
        subject,
      );
    }
    this.logger.warn(
      { identity: identity.objectId, appId: identity.appId, err: e.message },
      'Graph unavailable: admitted on the token alone (on-unavailable: allow)',
    );
    return identity;
  }
}

function stateOf(principal: ServicePrincipalStatus | undefined): IdentityState {
  if (principal === undefined) return 'deleted';
  return principal.accountEnabled ? 'enabled' : 'disabled';
}

/**
 * The identity with the name its tenant gives it, when the token carried none: app-only tokens
 * (v2) have no name claim, and the client's own `user` label is not a name anyone vouched for.
 */
function named(identity: VerifiedIdentity, principal: ServicePrincipalStatus): VerifiedIdentity {
  if (identity.displayName !== undefined || principal.displayName === undefined) return identity;
  return { ...identity, displayName: principal.displayName };
}

function stateDetail(appId: string, state: IdentityState): string {
  return state === 'deleted'
    ? `the service principal of application ${appId} no longer exists in the tenant`
    : `the service principal of application ${appId} is disabled (accountEnabled: false)`;
}
