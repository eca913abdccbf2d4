import { z } from 'zod';
import { parseScope } from '../policy/scope.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/;

const port = z.number().int().min(0).max(65535);
const seconds = z.number().positive();

const authority = z
  .string()
  .transform((s) => s.replace(/\/+$/, ''))
  .refine((s) => s.startsWith('https://') || LOOPBACK_HTTP.test(s), {
    message: 'must be an https:// URL (http:// is allowed only for 127.0.0.1/localhost, for local testing)',
  });

const listen = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(5433),
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    'allow-plaintext': z.boolean().default(false),
    'max-connections': z.number().int().positive().default(1000),
    'auth-timeout-seconds': seconds.default(10),
    'drain-timeout-seconds': seconds.default(30),
  })
  .strict();

const entra = z
  .object({
    'tenant-id': z.string().regex(GUID, 'must be the tenant GUID'),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    authority: authority.default('https://login.microsoftonline.com'),
    'clock-skew-seconds': z.number().min(0).max(300).default(60),
    'allow-user-tokens': z.boolean().default(false),
    'jwks-cooldown-seconds': z.number().min(0).default(30),
  })
  .strict();

const connection = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'may hold letters, digits, _ . - only'),
    host: z.string().min(1),
    port: port.default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    'password-env': z.string().min(1).optional(),
    'password-file': z.string().min(1).optional(),
    tls: z.enum(['disable', 'require', 'verify-full']).default('require'),
    ca: z.string().min(1).optional(),
    'connect-timeout-seconds': seconds.default(5),
    /** The schema unqualified tables are in, for the session's search_path and for its scopes. */
    'search-path': z.string().regex(/^[a-z_][a-z0-9_$]*$/, 'must be one unquoted schema name').default('public'),
  })
  .strict()
  .refine((c) => (c['password-env'] === undefined) !== (c['password-file'] === undefined), {
    message: 'needs exactly one of password-env or password-file',
  })
  .refine((c) => c.tls !== 'verify-full' || c.ca !== undefined, {
    message: 'tls: verify-full needs ca: (the CA certificate file)',
    path: ['ca'],
  });

const mapping = z
  .object({
    'entra-group': z
      .string()
      .regex(GUID, 'must be a group object id (a GUID, as Entra puts it in the groups claim)')
      .transform((g) => g.toLowerCase())
      .optional(),
    'entra-app-role': z.string().min(1).optional(),
    connection: z.string().min(1),
    scope: z.string().superRefine((scope, ctx) => {
      try {
        parseScope(scope);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      }
    }),
    record: z.union([z.boolean(), z.literal('full')]).default(true),
  })
  .strict()
  .refine((m) => (m['entra-group'] === undefined) !== (m['entra-app-role'] === undefined), {
    message: 'needs exactly one of entra-group or entra-app-role',
  });

export const configSchema = z
  .object({
    listen: listen.default(() => listen.parse({})),
    entra,
    connections: z.array(connection).min(1),
    'identity-map': z.array(mapping).min(1),
    recordings: z
      .object({ path: z.string().min(1).default('recordings/audit.db') })
      .strict()
      .default({ path: 'recordings/audit.db' }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
