/** Entra's v2 key set for a tenant: `{authority}/{tenant}/discovery/v2.0/keys`. */
export function jwksUrl(authority: string, tenantId: string): URL {
  return new URL(`${authority}/${tenantId}/discovery/v2.0/keys`);
}

/** The issuers Entra uses for a tenant: v2 under the authority, v1 under sts.windows.net. */
export function acceptedIssuers(authority: string, tenantId: string): string[] {
  return [`${authority}/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`];
}
