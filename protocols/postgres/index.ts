import type { WireProtocol } from '../../src/protocol.js';
import { buildTranscript } from './recording/build-transcript.js';
import { expandEvents } from './recording/expand-events.js';
import { accessesOfStatements } from './policy/recorded-usage.js';
import { PostgresServer } from './postgres-server.js';
import { replaySteps } from './replay/client-frames.js';
import { executeReplay } from './replay/execute-replay.js';
import { checkScopedUpstream, checkUpstream } from './upstream/check-upstream.js';
import { readRolePowers } from './upstream/role-powers.js';

/** The Postgres wire protocol: what the composition root gives the core and the CLI. */
export const postgres: WireProtocol = {
  name: 'postgres',
  serve: (services) => new PostgresServer(services),
  expandEvents,
  buildTranscript,
  replay: (rows, target, options) => executeReplay(replaySteps(rows), target, options),
  checkUpstream,
  checkScopedUpstream,
  readRolePowers,
  accessesOfStatements: (statements, schema) => accessesOfStatements(statements, schema),
};

/** The Postgres listener alone, as tests and benches start a gateway. */
export const postgresProtocol = postgres.serve;
