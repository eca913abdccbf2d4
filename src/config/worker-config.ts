import type { GatewayConfig } from './gateway-config.js';

/**
 * The configuration one worker of `listen.workers` runs with: its own fleet node id (the
 * configured one with `:w<index>`) and its own local audit database (`audit-w<index>.db` beside
 * the configured path), since one database has one writer; no admin endpoint of its own (the
 * primary serves one for all workers). Everything else is shared.
 */
export function forWorker(config: GatewayConfig, index: number): GatewayConfig {
  const path = config.recordingsPath;
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const recordingsPath = dot > slash ? `${path.slice(0, dot)}-w${index}${path.slice(dot)}` : `${path}-w${index}`;
  // The admin endpoint is the primary's: it answers for every worker.
  const { admin: _primarys, ...shared } = config;
  return { ...shared, nodeId: `${config.nodeId}:w${index}`, recordingsPath };
}
