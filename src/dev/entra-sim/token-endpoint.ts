import { createPublicKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { SimApplication, SimDirectory } from './directory.js';
import { entraError, json, readBody } from './http-util.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** How a client proved who it is: `azpacr` 1 (secret) or 2 (certificate or managed identity). */
export type ClientAuth = 'secret' | 'certificate';

export interface TokenEndpointContext {
  readonly directory: SimDirectory;
  /** This endpoint's own URL: the audience a client assertion must name. */
  readonly tokenEndpoint: string;
  /** The resource a `{resource}/.default` scope names, or undefined when the tenant has none such. */
  resourceFor(scope: string): string | undefined;
  issue(app: SimApplication, resource: string, auth: ClientAuth): Promise<{ token: string; expiresIn: number }>;
}

/** POST /{tenant}/oauth2/v2.0/token for the client-credentials grant, answering as Entra does. */
export async function handleTokenRequest(ctx: TokenEndpointContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = new URLSearchParams(await readBody(req));
  if (form.get('grant_type') !== 'client_credentials') {
    entraError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    return;
  }
  const clientId = form.get('client_id') ?? '';
  const app = ctx.directory.application(clientId);
  if (app === undefined || app.managedIdentity) {
    entraError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    return;
  }
  const auth = await authenticate(ctx, app, form);
  if (typeof auth !== 'string') {
    entraError(res, 401, 'invalid_client', auth.aadsts, auth.description);
    return;
  }
  if (!app.accountEnabled) {
    entraError(res, 400, 'unauthorized_client', 7000112, `Application '${app.appId}'(${app.displayName}) is disabled.`);
    return;
  }
  const scope = form.get('scope') ?? '';
  const resource = ctx.resourceFor(scope);
  if (resource === undefined) {
    entraError(
      res,
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${scope.replace(/\/\.default$/, '')} was not found in the tenant.`,
    );
    return;
  }
  const { token, expiresIn } = await ctx.issue(app, resource, auth);
  json(res, 200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token });
}

async function authenticate(
  ctx: TokenEndpointContext,
  app: SimApplication,
  form: URLSearchParams,
): Promise<ClientAuth | { aadsts: number; description: string }> {
  const secret = form.get('client_secret');
  if (secret !== null) {
    return app.secrets.includes(secret)
      ? 'secret'
      : {
          aadsts: 7000215,
          description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
        };
  }
  const assertion = form.get('client_assertion');
  if (assertion !== null && form.get('client_assertion_type') === CLIENT_ASSERTION_TYPE) {
    return (await assertionIsValid(ctx, app, assertion))
      ? 'certificate'
      : { aadsts: 700027, description: 'Client assertion failed signature validation.' };
  }
  return { aadsts: 7000218, description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'." };
}

/** A client assertion names a registered certificate by thumbprint and is signed by its key. */
async function assertionIsValid(ctx: TokenEndpointContext, app: SimApplication, assertion: string): Promise<boolean> {
  try {
    const header = decodeProtectedHeader(assertion);
    const x5t256 = header['x5t#S256'];
    const thumbprint = typeof x5t256 === 'string' ? Buffer.from(x5t256, 'base64url').toString('hex') : undefined;
    const certificate = app.certificates.find((c) => c.thumbprintSha256 === thumbprint);
    if (certificate === undefined) return false;
    await jwtVerify(assertion, createPublicKey(certificate.certPem), {
      algorithms: ['PS256', 'RS256'],
      audience: ctx.tokenEndpoint,
      issuer: app.appId,
      subject: app.appId,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: 300, // as Entra allows: msal rounds its clock to the nearest second
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * GET /msi/token: the App Service managed-identity endpoint msal-node calls when IDENTITY_ENDPOINT
 * and IDENTITY_HEADER are set, so a "managed identity" can be exercised on a machine that is not in
 * Azure. The header proves the caller runs where the identity lives.
 */
export async function handleManagedIdentityRequest(
  ctx: TokenEndpointContext,
  identityHeader: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  if (req.headers['x-identity-header'] !== identityHeader) {
    json(res, 401, { statusCode: 401, message: 'Unauthorized: the X-IDENTITY-HEADER does not match.' });
    return;
  }
  const app = ctx.directory.managedIdentity();
  const resourceParam = url.searchParams.get('resource') ?? '';
  const resource = ctx.resourceFor(resourceParam.endsWith('/.default') ? resourceParam : `${resourceParam}/.default`);
  if (app === undefined) {
    json(res, 400, { statusCode: 400, message: 'No managed identity is assigned to this resource.' });
    return;
  }
  if (!app.accountEnabled) {
    json(res, 400, { statusCode: 400, message: `AADSTS7000112: Application '${app.appId}'(${app.displayName}) is disabled.` });
    return;
  }
  if (resource === undefined) {
    json(res, 400, {
      statusCode: 400,
      message: `AADSTS500011: The resource principal named ${resourceParam} was not found in the tenant.`,
    });
    return;
  }
  const { token, expiresIn } = await ctx.issue(app, resource, 'certificate');
  json(res, 200, {
    access_token: token,
    expires_on: String(Math.floor(Date.now() / 1000) + expiresIn),
    resource,
    token_type: 'Bearer',
    client_id: app.appId,
  });
}
