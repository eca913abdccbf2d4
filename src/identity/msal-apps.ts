import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ConfidentialClientApplication, ManagedIdentityApplication, type Configuration } from '@azure/msal-node';
import type { ClientCredential } from '../config/client-credential.js';
import type { EntraHttp } from './entra-http.js';
import { msalNetwork } from './msal-network.js';
import { EntraCredentialError } from './entra-credential-error.js';

export type { ClientCredential };

export interface ConfidentialClientOptions {
  /** e.g. https://login.microsoftonline.com, without a trailing slash. */
  readonly authority: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly credential: ClientCredential;
  readonly http: EntraHttp;
}

/**
 * A msal-node confidential client for one tenant. The authority's metadata is given to msal rather
 * than discovered, so msal makes no call but the token request itself — which is what lets it run
 * against the simulator, and keeps a sovereign cloud's traffic in that cloud.
 */
export function confidentialClient(options: ConfidentialClientOptions): ConfidentialClientApplication {
  const config: Configuration = {
    auth: {
      clientId: options.clientId,
      authority: `${options.authority}/${options.tenantId}`,
      ...credentialOptions(options.credential),
      ...authorityMetadata(options.authority, options.tenantId),
    },
    system: { networkClient: msalNetwork(options.http) },
  };
  return new ConfidentialClientApplication(config);
}

/** A managed identity (system-assigned, or user-assigned by client id) through msal-node's own source detection. */
export function managedIdentityClient(http: EntraHttp, userAssignedClientId?: string): ManagedIdentityApplication {
  return new ManagedIdentityApplication({
    ...(userAssignedClientId !== undefined ? { managedIdentityIdParams: { userAssignedClientId } } : {}),
    system: { networkClient: msalNetwork(http) },
  });
}

function credentialOptions(credential: ClientCredential): Pick<NonNullable<Configuration['auth']>, 'clientSecret' | 'clientCertificate'> {
  if (credential.kind === 'secret') return { clientSecret: credential.secret.reveal() };
  const { certificate, privateKey } = splitPem(credential.pem.reveal());
  return { clientCertificate: { thumbprintSha256: new X509Certificate(certificate).fingerprint256.replace(/:/g, ''), privateKey } };
}

/** A certificate credential file holds the certificate and its key; msal-node wants them apart. */
export function splitPem(pem: string): { certificate: string; privateKey: string } {
  const certificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(pem)?.[0];
  if (certificate === undefined || key === undefined) {
    throw new EntraCredentialError('the certificate file must hold a PEM certificate and its private key');
  }
  // msal-node signs with a PKCS#8 key; a PKCS#1 ("RSA PRIVATE KEY") file is converted.
  const privateKey = createPrivateKey(key).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { certificate, privateKey };
}

function authorityMetadata(
  authority: string,
  tenantId: string,
): Pick<NonNullable<Configuration['auth']>, 'knownAuthorities' | 'authorityMetadata' | 'cloudDiscoveryMetadata'> {
  const host = new URL(authority).host;
  const base = `${authority}/${tenantId}`;
  return {
    knownAuthorities: [host],
    authorityMetadata: JSON.stringify({
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      issuer: `${base}/v2.0`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
    }),
    cloudDiscoveryMetadata: JSON.stringify({
      tenant_discovery_endpoint: `${base}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    }),
  };
}
