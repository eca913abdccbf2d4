import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import type { SimDirectory } from './directory.js';
import { graphError, json, readBody } from './http-util.js';

/** The Graph application permissions each call needs, as Microsoft documents them. */
export const READ_APPLICATIONS = 'Application.Read.All';
export const READ_MEMBERSHIP = 'GroupMember.Read.All';

export interface GraphContext {
  readonly directory: SimDirectory;
  /** Verifies a bearer token for Graph; undefined when it is not one. */
  verifyGraphToken(token: string): Promise<JWTPayload | undefined>;
}

const SP_BY_APP_ID = /^\/v1\.0\/servicePrincipals\(appId='([0-9a-fA-F-]{36})'\)$/;
const SP_BY_ID = /^\/v1\.0\/servicePrincipals\/([0-9a-fA-F-]{36})$/;
const SP_ROLE_ASSIGNMENTS = /^\/v1\.0\/servicePrincipals\/([0-9a-fA-F-]{36})\/appRoleAssignments$/;
const SP_MEMBERSHIP = /^\/v1\.0\/(?:servicePrincipals|directoryObjects)\/([0-9a-fA-F-]{36})\/(checkMemberGroups|getMemberObjects)$/;
const NAME_FILTER = /^displayName eq '((?:[^']|'')*)'$/;
const GROUP_SPS = /^\/v1\.0\/groups\/([0-9a-fA-F-]{36})\/transitiveMembers\/microsoft\.graph\.servicePrincipal$/;
const ASSIGNED_TO = /^\/v1\.0\/servicePrincipals\/([0-9a-fA-F-]{36})\/appRoleAssignedTo$/;

/**
 * The Microsoft Graph v1.0 calls the gateway makes: a service principal by appId or id,
 * checkMemberGroups, getMemberObjects, and groups by display name. Each needs a Graph token with
 * the documented application permission; answers and errors have Graph's shapes.
 */
export async function handleGraphRequest(
  ctx: GraphContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  url: URL,
): Promise<void> {
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const claims = bearer === undefined ? undefined : await ctx.verifyGraphToken(bearer);
  if (claims === undefined) {
    graphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    return;
  }
  const roles = Array.isArray(claims['roles']) ? claims['roles'] : [];
  const needs = (permission: string): boolean => {
    if (roles.includes(permission)) return true;
    graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    return false;
  };
  let match: RegExpExecArray | null;
  if (req.method === 'GET' && (match = SP_BY_APP_ID.exec(path) ?? SP_BY_ID.exec(path)) !== null) {
    if (!needs(READ_APPLICATIONS)) return;
    const id = match[1] ?? '';
    const api = SP_BY_APP_ID.test(path) ? ctx.directory.apiByAppId(id) : undefined;
    if (api !== undefined) {
      const appRoles = [...api.appRoles].map(([value, roleId]) => ({
        id: roleId,
        value,
        allowedMemberTypes: ['Application'],
        isEnabled: true,
      }));
      json(res, 200, { id: api.objectId, appId: api.appId, accountEnabled: true, appRoles });
      return;
    }
    const app = SP_BY_APP_ID.test(path) ? ctx.directory.application(id) : ctx.directory.servicePrincipal(id);
    if (app === undefined) {
      graphError(
        res,
        404,
        'Request_ResourceNotFound',
        `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
      );
      return;
    }
    json(res, 200, { id: app.objectId, appId: app.appId, displayName: app.displayName, accountEnabled: app.accountEnabled });
    return;
  }
  if (req.method === 'GET' && (match = SP_ROLE_ASSIGNMENTS.exec(path)) !== null) {
    if (!needs(READ_APPLICATIONS)) return;
    const principal = ctx.directory.servicePrincipal(match[1] ?? '');
    if (principal === undefined) {
      graphError(res, 404, 'Request_ResourceNotFound', `Resource '${match[1] ?? ''}' does not exist.`);
      return;
    }
    json(res, 200, { value: ctx.directory.appRoleAssignments(principal).map((a) => ({ ...a, principalId: principal.objectId })) });
    return;
  }
  if (req.method === 'POST' && (match = SP_MEMBERSHIP.exec(path)) !== null) {
    if (!needs(READ_APPLICATIONS) || !needs(READ_MEMBERSHIP)) return;
    const principal = ctx.directory.servicePrincipal(match[1] ?? '');
    if (principal === undefined) {
      graphError(res, 404, 'Request_ResourceNotFound', `Resource '${match[1] ?? ''}' does not exist.`);
      return;
    }
    const memberOf = ctx.directory.memberOf(principal.objectId);
    const body = parseJson(await readBody(req));
    if (match[2] === 'getMemberObjects') {
      json(res, 200, { value: memberOf });
      return;
    }
    const asked = body?.['groupIds'];
    if (!Array.isArray(asked) || asked.length === 0 || asked.length > 20 || !asked.every((g) => typeof g === 'string')) {
      graphError(res, 400, 'Request_BadRequest', 'groupIds must hold 1 to 20 group ids.');
      return;
    }
    json(res, 200, { value: asked.filter((g) => memberOf.includes(g.toLowerCase())) });
    return;
  }
  if (req.method === 'GET' && (match = GROUP_SPS.exec(path)) !== null) {
    if (!needs(READ_MEMBERSHIP)) return;
    const group = ctx.directory.group(match[1] ?? '');
    if (group === undefined) {
      graphError(res, 404, 'Request_ResourceNotFound', `Resource '${match[1] ?? ''}' does not exist.`);
      return;
    }
    const inGroup = ctx.directory.transitiveMembers(group.id);
    const members = ctx.directory.allApplications().filter((a) => inGroup.has(a.objectId));
    page(
      res,
      url,
      members.map((a) => ({ id: a.objectId, appId: a.appId, displayName: a.displayName, accountEnabled: a.accountEnabled })),
    );
    return;
  }
  if (req.method === 'GET' && (match = ASSIGNED_TO.exec(path)) !== null) {
    if (!needs(READ_APPLICATIONS)) return;
    const api = ctx.directory.allApis().find((a) => a.objectId === (match?.[1] ?? '').toLowerCase());
    if (api === undefined) {
      graphError(res, 404, 'Request_ResourceNotFound', `Resource '${match[1] ?? ''}' does not exist.`);
      return;
    }
    const assignments = ctx.directory.allApplications().flatMap((app) =>
      ctx.directory
        .appRoleAssignments(app)
        .filter((a) => a.resourceId === api.objectId)
        .map((a) => ({ principalId: app.objectId, appRoleId: a.appRoleId, resourceId: a.resourceId })),
    );
    page(res, url, assignments);
    return;
  }
  if (req.method === 'GET' && path === '/v1.0/groups') {
    if (!needs(READ_MEMBERSHIP)) return;
    const filter = NAME_FILTER.exec(url.searchParams.get('$filter') ?? '');
    if (filter === null) {
      graphError(res, 400, 'Request_UnsupportedQuery', "The simulator supports only $filter=displayName eq 'name'.");
      return;
    }
    const groups = ctx.directory.groupsNamed((filter[1] ?? '').replace(/''/g, "'"));
    json(res, 200, { value: groups.map((g) => ({ id: g.id, displayName: g.displayName })) });
    return;
  }
  graphError(res, 400, 'BadRequest', `Resource not found for the segment '${path}'.`);
}

/** One page of a listing, as Graph pages: `$top` items (default 100), then an `@odata.nextLink` with a skip token. */
function page(res: ServerResponse, url: URL, items: readonly unknown[]): void {
  const top = Math.min(Number(url.searchParams.get('$top') ?? 100) || 100, 999);
  const skip = Number(url.searchParams.get('$skiptoken') ?? 0) || 0;
  const next = new URL(url.href);
  next.searchParams.set('$skiptoken', String(skip + top));
  return json(res, 200, { value: items.slice(skip, skip + top), ...(skip + top < items.length ? { '@odata.nextLink': next.href } : {}) });
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
