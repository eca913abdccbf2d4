import type { AppTokens } from './app-tokens.js';
import type { EntraHttp, HttpResponse } from './entra-http.js';
import { errorMessage, IdgateError } from '../idgate-error.js';

/** Graph could not answer (unreachable, throttled, refused the gateway's credential, an odd answer). */
export class GraphUnavailableError extends IdgateError {
  override readonly name = 'GraphUnavailableError';
  override readonly code = 'graph-unavailable';
}

export interface ServicePrincipalStatus {
  /** The service principal's object id (the `oid` of its app-only tokens). */
  readonly objectId: string;
  readonly accountEnabled: boolean;
  /** Its name in the tenant, set by its admins (not by the agent): what reviewers see it as. */
  readonly displayName: string | undefined;
}

/** A service principal as `reach` shows it. */
export interface PrincipalInfo extends ServicePrincipalStatus {
  readonly appId: string;
}

export interface GroupRef {
  readonly id: string;
  readonly displayName: string;
}

/** Pages of a listing followed before giving up (100 items a page). */
const MAX_PAGES = 20;

/** Graph takes at most 20 group ids per checkMemberGroups call. */
const CHECK_BATCH = 20;

/**
 * The Microsoft Graph calls live revocation needs, made with the gateway's own application token
 * (msal-node, `{endpoint}/.default`): a service principal by appId; an object's transitive
 * membership in given groups and all its groups (overage) — through `directoryObjects`, the path
 * valid for any kind of principal — and groups by display name.
 */
export class GraphClient {
  constructor(
    /** e.g. https://graph.microsoft.com */
    private readonly endpoint: string,
    private readonly tokens: AppTokens,
    private readonly http: EntraHttp,
    /** Told each request's duration and whether Graph answered (a 2xx or 404) — for metrics. */
    private readonly observe: (seconds: number, ok: boolean) => void = () => undefined,
  ) {}

  /** The service principal behind an application id, or undefined when it no longer exists. */
  async servicePrincipal(appId: string): Promise<ServicePrincipalStatus | undefined> {
    const response = await this.call(
      'GET',
      `/v1.0/servicePrincipals(appId='${encodeURIComponent(appId)}')?$select=id,displayName,accountEnabled`,
    );
    if (response.status === 404) return undefined;
    const body = expectOk(response);
    if (typeof body['id'] !== 'string' || typeof body['accountEnabled'] !== 'boolean') {
      throw new GraphUnavailableError('Graph answered without id/accountEnabled');
    }
    return { objectId: body['id'].toLowerCase(), accountEnabled: body['accountEnabled'], displayName: displayNameOf(body) };
  }

  /** A service principal by its application id or its object id (tried in that order), or undefined. */
  async principal(id: string): Promise<PrincipalInfo | undefined> {
    for (const path of [
      `/v1.0/servicePrincipals(appId='${encodeURIComponent(id)}')`,
      `/v1.0/servicePrincipals/${encodeURIComponent(id)}`,
    ]) {
      const response = await this.call('GET', `${path}?$select=id,appId,displayName,accountEnabled`);
      if (response.status === 404) continue;
      const body = expectOk(response);
      if (typeof body['id'] !== 'string' || typeof body['appId'] !== 'string' || typeof body['accountEnabled'] !== 'boolean') {
        throw new GraphUnavailableError('Graph answered without id/appId/accountEnabled');
      }
      return {
        objectId: body['id'].toLowerCase(),
        appId: body['appId'].toLowerCase(),
        displayName: displayNameOf(body),
        accountEnabled: body['accountEnabled'],
      };
    }
    return undefined;
  }

  /** Which of these groups the service principal is a member of (transitively). */
  async checkMemberGroups(objectId: string, groupIds: readonly string[]): Promise<Set<string>> {
    const members = new Set<string>();
    for (let i = 0; i < groupIds.length; i += CHECK_BATCH) {
      const body = expectOk(
        await this.call('POST', `/v1.0/directoryObjects/${encodeURIComponent(objectId)}/checkMemberGroups`, {
          groupIds: groupIds.slice(i, i + CHECK_BATCH),
        }),
      );
      for (const id of stringValues(body)) members.add(id.toLowerCase());
    }
    return members;
  }

  /** Every group the service principal is a member of (transitively): the overage case. */
  async memberGroups(objectId: string): Promise<string[]> {
    const body = expectOk(
      await this.call('POST', `/v1.0/directoryObjects/${encodeURIComponent(objectId)}/getMemberObjects`, { securityEnabledOnly: false }),
    );
    return stringValues(body).map((id) => id.toLowerCase());
  }

  /** An API's service principal (by its application id) and its app roles, value → id. */
  async apiAppRoles(apiAppId: string): Promise<{ readonly objectId: string; readonly roles: ReadonlyMap<string, string> } | undefined> {
    const response = await this.call('GET', `/v1.0/servicePrincipals(appId='${encodeURIComponent(apiAppId)}')?$select=id,appRoles`);
    if (response.status === 404) return undefined;
    const body = expectOk(response);
    const appRoles = body['appRoles'];
    if (typeof body['id'] !== 'string' || !Array.isArray(appRoles)) throw new GraphUnavailableError('Graph answered without id/appRoles');
    const roles = new Map<string, string>();
    for (const r of appRoles as unknown[]) {
      const role = r as { id?: unknown; value?: unknown };
      if (typeof role.id === 'string' && typeof role.value === 'string') roles.set(role.value, role.id.toLowerCase());
    }
    return { objectId: body['id'].toLowerCase(), roles };
  }

  /** The app roles assigned to a service principal: (role id, resource service principal id). */
  async appRoleAssignments(objectId: string): Promise<{ readonly appRoleId: string; readonly resourceId: string }[]> {
    const value: unknown[] = [];
    let path: string | undefined =
      `/v1.0/servicePrincipals/${encodeURIComponent(objectId)}/appRoleAssignments?$select=appRoleId,resourceId`;
    for (let page = 0; path !== undefined; page++) {
      if (page >= MAX_PAGES) throw new GraphUnavailableError(`more than ${MAX_PAGES} pages of app-role assignments`);
      const body = expectOk(await this.call('GET', path));
      if (!Array.isArray(body['value'])) throw new GraphUnavailableError('Graph answered without a value list');
      value.push(...(body['value'] as unknown[]));
      path = this.nextPage(body['@odata.nextLink']);
    }
    return value.flatMap((a: unknown) => {
      const assignment = a as { appRoleId?: unknown; resourceId?: unknown };
      return typeof assignment.appRoleId === 'string' && typeof assignment.resourceId === 'string'
        ? [{ appRoleId: assignment.appRoleId.toLowerCase(), resourceId: assignment.resourceId.toLowerCase() }]
        : [];
    });
  }

  /** The service principals in a group, transitively (every page: a partial list is refused, never returned). */
  async groupServicePrincipals(groupId: string): Promise<PrincipalInfo[]> {
    const items = await this.listAll(
      `/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.servicePrincipal?$select=id,appId,displayName,accountEnabled&$top=100`,
    );
    return items.flatMap((item) => {
      const p = item as { id?: unknown; appId?: unknown; displayName?: unknown; accountEnabled?: unknown };
      if (typeof p.id !== 'string' || typeof p.appId !== 'string' || typeof p.accountEnabled !== 'boolean') return [];
      return [
        {
          objectId: p.id.toLowerCase(),
          appId: p.appId.toLowerCase(),
          displayName: typeof p.displayName === 'string' ? p.displayName : undefined,
          accountEnabled: p.accountEnabled,
        },
      ];
    });
  }

  /** Who holds app roles on an API's service principal: principal object id and role id (every page). */
  async appRoleHolders(apiObjectId: string): Promise<{ readonly principalId: string; readonly appRoleId: string }[]> {
    const items = await this.listAll(`/v1.0/servicePrincipals/${encodeURIComponent(apiObjectId)}/appRoleAssignedTo?$top=100`);
    return items.flatMap((item) => {
      const a = item as { principalId?: unknown; appRoleId?: unknown };
      return typeof a.principalId === 'string' && typeof a.appRoleId === 'string'
        ? [{ principalId: a.principalId.toLowerCase(), appRoleId: a.appRoleId.toLowerCase() }]
        : [];
    });
  }

  private async listAll(first: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let path: string | undefined = first;
    for (let pages = 0; path !== undefined; pages++) {
      if (pages >= MAX_PAGES) throw new GraphUnavailableError(`more than ${MAX_PAGES} pages: refusing a partial list`);
      const body = expectOk(await this.call('GET', path));
      const value = body['value'];
      if (!Array.isArray(value)) throw new GraphUnavailableError('Graph answered without a value list');
      items.push(...(value as unknown[]));
      path = this.nextPage(body['@odata.nextLink']);
    }
    return items;
  }

  async groupsNamed(displayName: string): Promise<GroupRef[]> {
    const filter = encodeURIComponent(`displayName eq '${displayName.replace(/'/g, "''")}'`);
    const body = expectOk(await this.call('GET', `/v1.0/groups?$filter=${filter}&$select=id,displayName`));
    const value = body['value'];
    if (!Array.isArray(value)) throw new GraphUnavailableError('Graph answered without a value list');
    return value.flatMap((g: unknown) => {
      const group = g as { id?: unknown; displayName?: unknown };
      return typeof group.id === 'string' && typeof group.displayName === 'string'
        ? [{ id: group.id.toLowerCase(), displayName: group.displayName }]
        : [];
    });
  }

  /** A page link Graph returned, as a path under our endpoint (a link elsewhere is not followed). */
  private nextPage(link: unknown): string | undefined {
    if (typeof link !== 'string') return undefined;
    if (!link.startsWith(`${this.endpoint}/`)) throw new GraphUnavailableError('Graph returned a next-page link outside its endpoint');
    return link.slice(this.endpoint.length);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpResponse> {
    const token = await this.token();
    const headers = { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    const started = performance.now();
    try {
      const response =
        method === 'GET'
          ? await this.http.get(`${this.endpoint}${path}`, headers)
          : await this.http.post(`${this.endpoint}${path}`, headers, JSON.stringify(body));
      this.observe((performance.now() - started) / 1000, (response.status >= 200 && response.status < 300) || response.status === 404);
      return response;
    } catch (e) {
      this.observe((performance.now() - started) / 1000, false);
      throw new GraphUnavailableError(errorMessage(e));
    }
  }

  private async token(): Promise<string> {
    try {
      return await this.tokens.token(`${this.endpoint}/.default`);
    } catch (e) {
      throw new GraphUnavailableError(`the gateway could not get a Microsoft Graph token: ${errorMessage(e)}`);
    }
  }
}

function expectOk(response: HttpResponse): Record<string, unknown> {
  if (response.status !== 200) throw new GraphUnavailableError(`Graph answered HTTP ${response.status}: ${graphErrorCode(response.body)}`);
  try {
    const value: unknown = JSON.parse(response.body);
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new GraphUnavailableError('Graph answered with something that is not JSON');
}

function graphErrorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    return typeof parsed.error?.code === 'string' ? parsed.error.code : 'no error code';
  } catch {
    return 'no error code';
  }
}

function stringValues(body: Record<string, unknown>): string[] {
  const value = body['value'];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new GraphUnavailableError('Graph answered without a list of ids');
  }
  return value;
}

/** A display name as Graph gives it, bounded: it ends up in every listing and log line of the identity. */
function displayNameOf(body: Record<string, unknown>): string | undefined {
  const name = body['displayName'];
  return typeof name === 'string' && name.trim() !== '' ? name.slice(0, 256) : undefined;
}
