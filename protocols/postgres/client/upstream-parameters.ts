import { isReadOnly, type Scope } from '../../../src/config/scope.js';
import { pinnedStartupSettings } from '../policy/scoped-session.js';

/**
 * What the upstream session starts with besides the client's harmless settings. A scoped session
 * gets the connection's search_path, so an unqualified table is where the scope check took it to
 * be; a scope that cannot write also runs read-only, so Postgres itself stops a write a function
 * would do (switching either off is denied by the scope check).
 */
export function upstreamParameters(
  forwarded: ReadonlyMap<string, string>,
  scope: Scope,
  searchPath: string,
  gatewaySet: ReadonlyMap<string, string>,
): ReadonlyMap<string, string> {
  const parameters = new Map(forwarded);
  // The gateway's own values replace the client's under any spelling of the name; the packet's settings win over `options`.
  for (const name of [...parameters.keys()]) if (gatewaySet.has(name.toLowerCase())) parameters.delete(name);
  for (const [name, value] of gatewaySet) parameters.set(name, value);
  if (scope.all) return parameters;
  parameters.set('search_path', searchPath);
  // The pinned values replace the client's under any spelling of the name (options come before the packet's settings, which win).
  for (const name of [...parameters.keys()]) if (pinnedStartupSettings().has(name.toLowerCase())) parameters.delete(name);
  for (const [name, value] of pinnedStartupSettings()) parameters.set(name, value);
  if (isReadOnly(scope)) parameters.set('default_transaction_read_only', 'on');
  return parameters;
}
