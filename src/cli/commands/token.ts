import { readFileSync } from 'node:fs';
import type { AuthenticationResult } from '@azure/msal-node';
import type { CommandModule } from 'yargs';
import { Secret } from '../../config/secret.js';
import { EntraHttp } from '../../identity/entra-http.js';
import { confidentialClient, managedIdentityClient, type ClientCredential } from '../../identity/msal-apps.js';
import { UsageError } from '../../idgate-error.js';
import { EntraCredentialError } from '../../identity/entra-credential-error.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface TokenArgs {
  readonly tenant: string | undefined;
  readonly 'client-id': string | undefined;
  readonly 'client-secret-env': string | undefined;
  readonly certificate: string | undefined;
  readonly 'managed-identity': boolean;
  readonly scope: string;
  readonly authority: string;
  readonly ca: string | undefined;
  readonly env: boolean;
}

export const tokenCommand: CommandModule<object, TokenArgs> = {
  ...COMMAND_SUMMARIES.token,
  builder: (y) =>
    y
      .option('tenant', { type: 'string', describe: 'tenant id (not needed with --managed-identity)' })
      .option('client-id', {
        type: 'string',
        describe: "the agent application's client id (with --managed-identity: a user-assigned identity's)",
      })
      .option('client-secret-env', { type: 'string', describe: 'environment variable holding the client secret' })
      .option('certificate', { type: 'string', describe: 'PEM file with the registered certificate and its private key' })
      .option('managed-identity', { type: 'boolean', default: false, describe: 'use the managed identity of the machine this runs on' })
      .option('scope', { type: 'string', demandOption: true, describe: "the gateway API's scope, e.g. api://idgate/.default" })
      .option('authority', {
        type: 'string',
        default: 'https://login.microsoftonline.com',
        describe: 'Entra authority (another cloud, or a simulator)',
      })
      .option('ca', { type: 'string', describe: 'extra CA certificate (PEM) to trust for the authority' })
      .option('env', { type: 'boolean', default: false, describe: 'print PGPASSWORD=<token> for eval' })
      .check((a) => {
        const ways = [a['client-secret-env'] !== undefined, a.certificate !== undefined, a['managed-identity']].filter(Boolean).length;
        if (ways !== 1) {
          throw new UsageError('bad-argument', 'name exactly one of --client-secret-env, --certificate or --managed-identity');
        }
        if (!a['managed-identity'] && (a.tenant === undefined || a['client-id'] === undefined)) {
          throw new UsageError('bad-argument', '--tenant and --client-id are needed with a secret or certificate');
        }
        return true;
      }),
  handler: async (args) => {
    const http = new EntraHttp({ ...(args.ca !== undefined ? { ca: readFileSync(args.ca) } : {}), timeoutMs: 15_000 });
    try {
      const result = await acquire(args, http);
      if (result === null || result.accessToken === '') throw new EntraCredentialError('Entra returned no token');
      out(args.env ? `PGPASSWORD='${result.accessToken}'\n` : `${result.accessToken}\n`);
    } catch (e) {
      // Entra's own words (AADSTS codes included) are what an operator searches for.
      err(`idgate token: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    } finally {
      http.close();
    }
  },
};

function acquire(args: TokenArgs, http: EntraHttp): Promise<AuthenticationResult | null> {
  if (args['managed-identity']) {
    // A managed identity gets tokens per resource, not per scope.
    return managedIdentityClient(http, args['client-id']).acquireToken({ resource: args.scope.replace(/\/\.default$/, '') });
  }
  const app = confidentialClient({
    authority: args.authority.replace(/\/+$/, ''),
    tenantId: args.tenant ?? '',
    clientId: args['client-id'] ?? '',
    credential: credentialFrom(args),
    http,
  });
  return app.acquireTokenByClientCredential({ scopes: [args.scope] });
}

function credentialFrom(args: TokenArgs): ClientCredential {
  const variable = args['client-secret-env'];
  if (variable !== undefined) {
    const secret = process.env[variable];
    if (secret === undefined || secret === '') throw new UsageError('bad-argument', `environment variable ${variable} is not set`);
    return { kind: 'secret', secret: new Secret(secret) };
  }
  return { kind: 'certificate', pem: new Secret(readFileSync(args.certificate ?? '', 'utf8')) };
}
