import type { AppTokens } from './app-tokens.js';
import type { EntraHttp, HttpResponse } from './entra-http.js';

/** Graph could not answer (unreachable, throttled, refused the gateway's credential, an odd answer). */
export class GraphUnavailableError extends Error {
  override readonly name = 'GraphUnavailableError';
  readonly code = 'graph-unavailable';
}

export interface ServicePrincipalStatus {
  /** The service principal's object id (the `oid` of its app-only tokens). */
  readonly objectId: string;
  readonly accountEnabled: boolean;
}

export interface GroupRef {
  readonly id: string;
  readonly displayName: string;
}

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
  ) {}

  /** The service principal behind an application id, or undefined when it no longer exists. */
  async servicePrincipal(appId: string): Promise<ServicePrincipalStatus | undefined> {
    const response = await this.call('GET', `/v1.0/servicePrincipals(appId='${encodeURIComponent(appId)}')?$select=id,accountEnabled`);
    if (response.status === 404) return undefined;
    const body = expectOk(response);
    if (typeof body['id'] !== 'string' || typeof body['accountEnabled'] !== 'boolean') throw new GraphUnavailableError('Graph answered without id/accountEnabled');
    return { objectId: body['id'].toLowerCase(), accountEnabled: body['accountEnabled'] };
  }

  /** Which of these groups the service principal is a member of (transitively). */
  async checkMemberGroups(objectId: string, groupIds: readonly string[]): Promise<Set<string>> {
    const members = new Set<string>();
    for (let i = 0; i < groupIds.length; i += CHECK_BATCH) {
      const body = expectOk(await this.call('POST', `/v1.0/directoryObjects/${encodeURIComponent(objectId)}/checkMemberGroups`, { groupIds: groupIds.slice(i, i + CHECK_BATCH) }));
      for (const id of stringValues(body)) members.add(id.toLowerCase());
    }
    return members;
  }

  /** Every group the service principal is a member of (transitively): the overage case. */
  async memberGroups(objectId: string): Promise<string[]> {
    const body = expectOk(await this.call('POST', `/v1.0/directoryObjects/${encodeURIComponent(objectId)}/getMemberObjects`, { securityEnabledOnly: false }));
    return stringValues(body).map((id) => id.toLowerCase());
  }

  async groupsNamed(displayName: string): Promise<GroupRef[]> {
    const filter = encodeURIComponent(`displayName eq '${displayName.replace(/'/g, "''")}'`);
    const body = expectOk(await this.call('GET', `/v1.0/groups?$filter=${filter}&$select=id,displayName`));
    const value = body['value'];
    if (!Array.isArray(value)) throw new GraphUnavailableError('Graph answered without a value list');
    return value.flatMap((g: unknown) => {
      const group = g as { id?: unknown; displayName?: unknown };
      return typeof group.id === 'string' && typeof group.displayName === 'string' ? [{ id: group.id.toLowerCase(), displayName: group.displayName }] : [];
    });
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpResponse> {
    const token = await this.token();
    const headers = { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    try {
      return method === 'GET' ? await this.http.get(`${this.endpoint}${path}`, headers) : await this.http.post(`${this.endpoint}${path}`, headers, JSON.stringify(body));
    } catch (e) {
      throw new GraphUnavailableError((e as Error).message);
    }
  }

  private async token(): Promise<string> {
    try {
      return await this.tokens.token(`${this.endpoint}/.default`);
    } catch (e) {
      throw new GraphUnavailableError(`the gateway could not get a Microsoft Graph token: ${(e as Error).message}`);
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
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw new GraphUnavailableError('Graph answered without a list of ids');
  return value;
}
