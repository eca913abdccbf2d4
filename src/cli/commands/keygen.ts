import { writeFile } from 'node:fs/promises';
import type { CommandModule } from 'yargs';
import { NodeKey } from '../../signing/node-key.js';
import { UsageError } from '../../idgate-error.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface KeygenArgs {
  readonly out: string;
  readonly node?: string | undefined;
}

export const keygenCommand: CommandModule<object, KeygenArgs> = {
  ...COMMAND_SUMMARIES.keygen,
  builder: (y) =>
    y
      .option('out', {
        type: 'string',
        demandOption: true,
        describe: 'file for the private key (PEM, created with mode 0600; never overwritten)',
      })
      .option('node', { type: 'string', describe: 'the node id, to print the trust-list line for it' }),
  handler: async (args) => {
    const { pem, key } = NodeKey.generate();
    try {
      // wx: never over an existing key — losing one makes the log it signed unverifiable as that node's.
      await writeFile(args.out, pem, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError('bad-argument', `--out ${args.out}: cannot create the key file (${code === 'EEXIST' ? 'it exists' : code})`);
    }
    const node = args.node ?? '<node-id>';
    out(
      `${key.publicKey}\n\n` +
        `# the node's config:\nrecordings:\n  signing-key-file: ${args.out}\n\n` +
        `# every config that verifies its log (and the anchors):\nrecordings:\n  trusted-nodes:\n    ${JSON.stringify(node)}: ${key.publicKey}\n`,
    );
  },
};
