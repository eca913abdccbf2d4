import { randomBytes, randomUUID } from 'node:crypto';
import { clientCertificate, type ClientCertificate } from './certificates.js';
import { DevEnvironmentError } from '../dev-error.js';

/** An application registration and its service principal, as one record (the simulator needs no more). */
export interface SimApplication {
  readonly appId: string;
  /** The service principal's object id: the `oid` of its app-only tokens. */
  readonly objectId: string;
  readonly displayName: string;
  accountEnabled: boolean;
  /** Client secrets that authenticate it (none for a managed identity). */
  readonly secrets: string[];
  readonly certificates: ClientCertificate[];
  /** App roles granted to it on every API (the `roles` claim), including Graph permissions on Graph. */
  readonly roles: string[];
  readonly managedIdentity: boolean;
}

export interface SimGroup {
  readonly id: string;
  readonly displayName: string;
  readonly members: Set<string>;
}

/** An API registration tokens can be requested for (`{identifierUri}/.default`). */
export interface SimApi {
  readonly appId: string;
  /** Its service principal: the resource of app-role assignments. */
  readonly objectId: string;
  readonly identifierUri: string;
  /** Its app roles, value → id (created as applications are granted them). */
  readonly appRoles: Map<string, string>;
}

export interface RegisterOptions {
  readonly displayName: string;
  readonly secret?: boolean;
  readonly certificate?: boolean;
  readonly roles?: readonly string[];
  readonly managedIdentity?: boolean;
}

/**
 * The simulated tenant's directory: applications with their credentials and enabled flag, groups
 * and their members, and APIs. Admin operations change it and the token endpoint and Graph read
 * it, so a test sees the same consequences it would see in Entra.
 */
export class SimDirectory {
  private readonly applications = new Map<string, SimApplication>();
  private readonly groups = new Map<string, SimGroup>();
  private readonly apis = new Map<string, SimApi>();

  async registerApplication(options: RegisterOptions): Promise<SimApplication> {
    const app: SimApplication = {
      appId: randomUUID(),
      objectId: randomUUID(),
      displayName: options.displayName,
      accountEnabled: true,
      secrets: options.secret === false ? [] : [randomBytes(30).toString('base64url')],
      certificates: options.certificate ? [await clientCertificate(options.displayName)] : [],
      roles: [...(options.roles ?? [])],
      managedIdentity: options.managedIdentity ?? false,
    };
    this.applications.set(app.appId, app);
    for (const api of this.apis.values()) for (const role of app.roles) roleId(api, role);
    return app;
  }

  registerApi(identifierUri: string, appId: string = randomUUID()): SimApi {
    const api: SimApi = { appId, objectId: randomUUID(), identifierUri, appRoles: new Map() };
    this.apis.set(identifierUri, api);
    return api;
  }

  createGroup(displayName: string): SimGroup {
    const group: SimGroup = { id: randomUUID(), displayName, members: new Set() };
    this.groups.set(group.id, group);
    return group;
  }

  application(appId: string): SimApplication | undefined {
    return this.applications.get(appId.toLowerCase());
  }

  managedIdentity(): SimApplication | undefined {
    return [...this.applications.values()].find((a) => a.managedIdentity);
  }

  servicePrincipal(objectId: string): SimApplication | undefined {
    return [...this.applications.values()].find((a) => a.objectId === objectId.toLowerCase());
  }

  deleteApplication(appId: string): void {
    this.applications.delete(appId.toLowerCase());
  }

  group(id: string): SimGroup | undefined {
    return this.groups.get(id.toLowerCase());
  }

  groupsNamed(displayName: string): SimGroup[] {
    return [...this.groups.values()].filter((g) => g.displayName === displayName);
  }

  /** Every application (service principal) there is. */
  allApplications(): SimApplication[] {
    return [...this.applications.values()];
  }

  /**
   * Group ids the object is a member of, directly or through groups that are members of groups —
   * as Entra's groups claim and Graph's transitive calls count membership.
   */
  memberOf(objectId: string): string[] {
    const found = new Set<string>();
    const queue = [objectId.toLowerCase()];
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const g of this.groups.values()) {
        if (g.members.has(id) && !found.has(g.id)) {
          found.add(g.id);
          queue.push(g.id);
        }
      }
    }
    return [...found];
  }

  /** Every object in a group, through nested groups too (Graph's transitiveMembers). */
  transitiveMembers(groupId: string): Set<string> {
    const found = new Set<string>();
    const queue = [groupId.toLowerCase()];
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const member of this.group(id)?.members ?? []) {
        if (found.has(member)) continue;
        found.add(member);
        if (this.group(member) !== undefined) queue.push(member);
      }
    }
    return found;
  }

  /** The app-role assignments of an application on every API: (role id, API service principal). */
  appRoleAssignments(app: SimApplication): { appRoleId: string; resourceId: string }[] {
    return [...this.apis.values()].flatMap((api) =>
      app.roles.map((value) => ({ appRoleId: roleId(api, value), resourceId: api.objectId })),
    );
  }

  allApis(): SimApi[] {
    return [...this.apis.values()];
  }

  apiByAppId(appId: string): SimApi | undefined {
    return [...this.apis.values()].find((a) => a.appId === appId.toLowerCase());
  }

  /** Takes an app role away from an application (an admin removing the assignment). */
  removeRole(appId: string, role: string): void {
    const app = this.application(appId);
    if (app === undefined) throw new DevEnvironmentError('unknown-object', `no application ${appId}`);
    const i = app.roles.indexOf(role);
    if (i >= 0) app.roles.splice(i, 1);
  }

  api(identifierUri: string): SimApi | undefined {
    return this.apis.get(identifierUri) ?? [...this.apis.values()].find((a) => a.appId === identifierUri);
  }

  addMember(groupId: string, objectId: string): void {
    this.requireGroup(groupId).members.add(objectId.toLowerCase());
  }

  removeMember(groupId: string, objectId: string): void {
    this.requireGroup(groupId).members.delete(objectId.toLowerCase());
  }

  setEnabled(appId: string, enabled: boolean): void {
    const app = this.application(appId);
    if (app === undefined) throw new DevEnvironmentError('unknown-object', `no application ${appId}`);
    app.accountEnabled = enabled;
  }

  private requireGroup(groupId: string): SimGroup {
    const group = this.group(groupId);
    if (group === undefined) throw new DevEnvironmentError('unknown-object', `no group ${groupId}`);
    return group;
  }
}

/** An API's app role id for a value, created on first use (Entra gives each role a GUID). */
export function roleId(api: SimApi, value: string): string {
  let id = api.appRoles.get(value);
  if (id === undefined) {
    id = randomUUID();
    api.appRoles.set(value, id);
  }
  return id;
}
