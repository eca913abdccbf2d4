import type { ClientConfig } from 'pg';
import { CONNECTION, type Harness } from './harness.js';

/** node-postgres settings for the gateway: TLS without verification (self-signed), the token as password. */
export function pgOptions(h: Harness, token: string, extra: Partial<ClientConfig> = {}): ClientConfig {
  return {
    host: '127.0.0.1',
    port: h.port,
    database: CONNECTION,
    user: 'pg-agent',
    password: token,
    ssl: { rejectUnauthorized: false },
    connectionTimeoutMillis: 10_000,
    ...extra,
  };
}
