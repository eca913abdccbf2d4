import { randomBytes, randomUUID } from 'node:crypto';
import { clientCertificate, type ClientCertificate } from './certificates.js';

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
  readonly identifierUri: string;
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
    return app;
  }

  registerApi(identifierUri: string, appId: string = randomUUID()): SimApi {
    const api = { appId, identifierUri };
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

  /** Group ids the service principal is a member of. */
  memberOf(objectId: string): string[] {
    return [...this.groups.values()].filter((g) => g.members.has(objectId)).map((g) => g.id);
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
    if (app === undefined) throw new Error(`no application ${appId}`);
    app.accountEnabled = enabled;
  }

  private requireGroup(groupId: string): SimGroup {
    const group = this.group(groupId);
    if (group === undefined) throw new Error(`no group ${groupId}`);
    return group;
  }
}
