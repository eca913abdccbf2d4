import type { UpstreamTls } from '../../../src/config/gateway-config.js';

/** Where an upstream server is and how to reach it; enough to open a login or a cancel connection. */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: UpstreamTls;
  readonly ca?: Buffer;
  readonly connectTimeoutMs: number;
}
