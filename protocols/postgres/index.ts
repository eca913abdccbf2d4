import type { ProtocolFactory } from '../../src/protocol.js';
import { PostgresServer } from './postgres-server.js';

/** The Postgres wire protocol, as the core starts it. */
export const postgresProtocol: ProtocolFactory = (services) => new PostgresServer(services);

export { checkScopedUpstream, checkUpstream } from './upstream/check-upstream.js';
export { QueryError, runSimpleQuery } from './upstream/simple-query.js';
export { buildTranscript } from './recording/transcript.js';
export { expandEvents } from './recording/expand-events.js';
export { replaySteps } from './replay/client-frames.js';
export { compareOutcomes, outcomeSummary } from './replay/compare-outcomes.js';
export { executeReplay } from './replay/execute-replay.js';
export { isSameDatabase, parseTargetUrl, redact } from './replay/target-url.js';
export { readRolePowers } from './upstream/role-powers.js';
export { accessesOfStatements } from './policy/recorded-usage.js';
