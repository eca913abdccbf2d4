/** What the gateway knows about a caller once its token has verified. Never holds the token. */
export interface VerifiedIdentity {
  /** Object id of the service principal (or user): the identity key. */
  readonly objectId: string;
  /** The client application id (`appid` in v1, `azp` in v2). */
  readonly appId: string;
  readonly tenantId: string;
  /** Group object ids from the `groups` claim, lower-case. */
  readonly groups: readonly string[];
  readonly roles: readonly string[];
  /** A display name when the token carries one (`name`, `app_displayname`). */
  readonly displayName?: string;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
  readonly tokenVersion: string;
  /** The signing key (`kid`) the token was verified with: sessions end if the tenant removes it. */
  readonly keyId: string;
  /** True when the token says the groups did not fit (`_claim_names.groups`): resolve through Graph. */
  readonly groupsOverage: boolean;
  /** The audience the token was issued for (one of the gateway's): for v2 tokens the API's client id. */
  readonly audience: string;
}
