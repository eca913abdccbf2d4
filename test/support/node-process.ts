import { join } from 'node:path';
import { freePort } from '../../src/dev/free-port.js';
import { startIdgate } from './cli.js';
import type { Harness } from './harness.js';

/** Another fleet node beside a harness's gateway: its own process and port, the harness's config otherwise. */
export interface NodeProcess {
  readonly port: number;
  readonly process: Awaited<ReturnType<typeof startIdgate>>;
  /** SIGTERM, and the wait for it to exit. */
  readonly stop: () => Promise<void>;
}

/** Starts node `nodeId` as its own gateway process, recording to `<nodeId>.db` in the harness's directory with `recordings` added. */
export async function startNodeProcess(h: Harness, nodeId: string, recordings: Record<string, unknown>): Promise<NodeProcess> {
  const port = await freePort();
  const { file, env } = h.writeConfigFile((d) => {
    d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
    d['recordings'] = { path: join(h.workDirectory, `${nodeId}.db`), ...recordings };
    d['node-id'] = nodeId;
  });
  const process = await startIdgate(['serve', '--config', file], /gateway listening/, env);
  return {
    port,
    process,
    stop: async () => {
      process.child.kill('SIGTERM');
      await process.exited;
    },
  };
}
