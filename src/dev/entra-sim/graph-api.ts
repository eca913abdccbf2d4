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

interface Call {
  readonly ctx: GraphContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The path's captures: the object's id, and for membership the function asked. */
  readonly match: RegExpExecArray;
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  /** Every one of these application permissions is needed. */
  readonly needs: readonly string[];
  answer(call: Call): void | Promise<void>;
}

const GROUPS = /^\/v1\.0\/groups$/;

/** The calls, first match wins (a service principal by appId is also an API's, which answers with its app roles). */
const ROUTES: readonly Route[] = [
  { method: 'GET', path: SP_BY_APP_ID, needs: [READ_APPLICATIONS], answer: (call) => servicePrincipal(call, true) },
  { method: 'GET', path: SP_BY_ID, needs: [READ_APPLICATIONS], answer: (call) => servicePrincipal(call, false) },
  { method: 'GET', path: SP_ROLE_ASSIGNMENTS, needs: [READ_APPLICATIONS], answer: roleAssignments },
  { method: 'POST', path: SP_MEMBERSHIP, needs: [READ_APPLICATIONS, READ_MEMBERSHIP], answer: membership },
  { method: 'GET', path: GROUP_SPS, needs: [READ_MEMBERSHIP], answer: groupMembers },
  { method: 'GET', path: ASSIGNED_TO, needs: [READ_APPLICATIONS], answer: assignedTo },
  { method: 'GET', path: GROUPS, needs: [READ_MEMBERSHIP], answer: groupsByName },
];

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
  for (const route of ROUTES) {
    const match = req.method === route.method ? route.path.exec(path) : null;
    if (match === null) continue;
    if (!route.needs.every((permission) => roles.includes(permission))) {
      graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      return;
    }
    await route.answer({ ctx, req, res, url, match });
    return;
  }
  graphError(res, 400, 'BadRequest', `Resource not found for the segment '${path}'.`);
}

function notFound(res: ServerResponse, id: string): void {
  graphError(res, 404, 'Request_ResourceNotFound', `Resource '${id}' does not exist.`);
}

function servicePrincipal({ ctx, res, match }: Call, byAppId: boolean): void {
  const id = match[1] ?? '';
  const api = byAppId ? ctx.directory.apiByAppId(id) : undefined;
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
  const app = byAppId ? ctx.directory.application(id) : ctx.directory.servicePrincipal(id);
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
}

function roleAssignments({ ctx, res, match }: Call): void {
  const principal = ctx.directory.servicePrincipal(match[1] ?? '');
  if (principal === undefined) return notFound(res, match[1] ?? '');
  json(res, 200, { value: ctx.directory.appRoleAssignments(principal).map((a) => ({ ...a, principalId: principal.objectId })) });
}

async function membership({ ctx, req, res, match }: Call): Promise<void> {
  const principal = ctx.directory.servicePrincipal(match[1] ?? '');
  if (principal === undefined) {
    notFound(res, match[1] ?? '');
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
}

function groupMembers({ ctx, res, url, match }: Call): void {
  const group = ctx.directory.group(match[1] ?? '');
  if (group === undefined) return notFound(res, match[1] ?? '');
  const inGroup = ctx.directory.transitiveMembers(group.id);
  const members = ctx.directory.allApplications().filter((a) => inGroup.has(a.objectId));
  page(
    res,
    url,
    members.map((a) => ({ id: a.objectId, appId: a.appId, displayName: a.displayName, accountEnabled: a.accountEnabled })),
  );
}

function assignedTo({ ctx, res, url, match }: Call): void {
  const api = ctx.directory.allApis().find((a) => a.objectId === (match[1] ?? '').toLowerCase());
  if (api === undefined) return notFound(res, match[1] ?? '');
  const assignments = ctx.directory.allApplications().flatMap((app) =>
    ctx.directory
      .appRoleAssignments(app)
      .filter((a) => a.resourceId === api.objectId)
      .map((a) => ({ principalId: app.objectId, appRoleId: a.appRoleId, resourceId: a.resourceId })),
  );
  page(res, url, assignments);
}

function groupsByName({ ctx, res, url }: Call): void {
  const filter = NAME_FILTER.exec(url.searchParams.get('$filter') ?? '');
  if (filter === null) {
    graphError(res, 400, 'Request_UnsupportedQuery', "The simulator supports only $filter=displayName eq 'name'.");
    return;
  }
  const groups = ctx.directory.groupsNamed((filter[1] ?? '').replace(/''/g, "'"));
  json(res, 200, { value: groups.map((g) => ({ id: g.id, displayName: g.displayName })) });
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
