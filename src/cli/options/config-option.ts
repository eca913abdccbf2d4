import type { Options } from 'yargs';

export const configOption = {
  alias: 'c',
  type: 'string',
  default: 'idgate.yaml',
  describe: 'configuration file (YAML or JSON)',
} as const satisfies Options;
