/**
 * How every listing names an identity: the name its tenant gives it (from the token or Graph) and
 * its application id — fields Entra vouches for. The client's own startup `user` is shown apart,
 * as `label: …`, because any agent can type any label.
 */
export function identityText(displayName: string | null | undefined, appId: string): string {
  return `${displayName ?? '(no name)'} (app ${appId})`;
}

/** The client's own label, marked as such wherever it is shown. */
export function labelText(clientUser: string): string {
  return `label: ${clientUser}`;
}
