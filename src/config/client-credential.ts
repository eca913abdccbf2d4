import type { Secret } from './secret.js';

/** How an application proves itself to Entra. */
export type ClientCredential =
  | { readonly kind: 'secret'; readonly secret: Secret }
  /** PEM holding the certificate and its private key, as uploaded to the app registration. */
  | { readonly kind: 'certificate'; readonly pem: Secret };
