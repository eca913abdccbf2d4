import type { Options } from 'yargs';
import { loadConfigFile } from '../../config/load-config.js';

export const dbOptions = {
  db: { type: 'string', describe: 'audit database (default: recordings.path of the config)' },
  config: { alias: 'c', type: 'string', default: 'idgate.yaml', describe: 'configuration file, for its recordings.path' },
} as const satisfies Record<string, Options>;

/** --db, else the configuration's recordings.path. */
export function auditDbPath(args: { readonly db?: string | undefined; readonly config: string }): string {
  if (args.db !== undefined) return args.db;
  return loadConfigFile(args.config).recordingsPath;
}
