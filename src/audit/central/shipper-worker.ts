import { parentPort, workerData } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type pg from 'pg';
import { openAuditDatabase } from '../audit-store.js';
import { CENTRAL_SCHEMA_VERSION, centralSchemaVersion } from './central-schema.js';
import { connectCentral, type CentralTarget } from './central-target.js';
import { insertShipment, localLogId, outboxBacklog, readShipment } from './ship-batch.js';
import type { ShipperReport, ShipperRequest } from './shipper-messages.js';
import { InvariantError } from '../../idgate-error.js';
import { AuditError } from '../audit-error.js';
import { RetryDelay } from './retry-delay.js';

/**
 * The shipper thread: moves what the local audit database holds to the central store, oldest
 * first, in shipments of at most SHIPMENT_ROWS outbox rows, each one central transaction; the
 * outbox rows go only after the central store committed. Unreachable, it retries (retry-delay.ts:
 * 1 s doubling to 15 s, jittered) and the local database keeps everything meanwhile.
 */
const SHIPMENT_ROWS = 2000;
const IDLE_MS = 500;

const { path, target } = workerData as { path: string; target: CentralTarget };
const port = parentPort;
if (port === null) throw new InvariantError('the shipper must run in a worker thread');

let db: Database | undefined;
let client: pg.Client | undefined;
const retryDelay = new RetryDelay();
let timer: NodeJS.Timeout | undefined;
let stopping = false;

function report(r: ShipperReport): void {
  port?.postMessage(r);
}

async function central(): Promise<pg.Client> {
  if (client !== undefined) return client;
  const connected = await connectCentral(target, 'idgate shipper');
  try {
    const version = await centralSchemaVersion(connected);
    if (version < CENTRAL_SCHEMA_VERSION) {
      throw new AuditError(
        'central-schema-mismatch',
        `the central audit schema is at version ${version}, this idgate needs ${CENTRAL_SCHEMA_VERSION}: run idgate audit-migrate with the owner role`,
      );
    }
  } catch (e) {
    await connected.end().catch(() => undefined);
    throw e;
  }
  client = connected;
  return connected;
}

/** Ships until the outbox is empty; returns the rows shipped. */
async function shipAll(): Promise<number> {
  db ??= openAuditDatabase(path);
  const logId = localLogId(db);
  let shipped = 0;
  for (;;) {
    const shipment = readShipment(db, logId, SHIPMENT_ROWS);
    if (shipment === undefined) return shipped;
    const conflicts = await insertShipment(await central(), shipment);
    if (conflicts.length > 0) report({ type: 'conflict', conflicts });
    db.prepare('DELETE FROM ship_outbox WHERE seq <= ?').run(shipment.throughSeq);
    shipped += shipment.outboxRows;
    report({ type: 'shipped', rows: shipment.outboxRows, backlog: outboxBacklog(db) });
  }
}

async function cycle(): Promise<void> {
  timer = undefined;
  try {
    await shipAll();
    retryDelay.reset();
    report({ type: 'idle', backlog: db === undefined ? 0 : outboxBacklog(db) });
    schedule(IDLE_MS);
  } catch (e) {
    await client?.end().catch(() => undefined);
    client = undefined;
    let backlog = 0;
    try {
      backlog = db === undefined ? 0 : outboxBacklog(db);
    } catch {
      // the local database is busy: the count comes with the next report
    }
    report({ type: 'unavailable', message: e instanceof Error ? e.message : String(e), backlog });
    schedule(retryDelay.take());
  }
}

function schedule(ms: number): void {
  if (stopping) {
    report({ type: 'stopped' });
    return;
  }
  timer = setTimeout(() => void cycle(), ms);
}

port.on('message', (request: ShipperRequest) => {
  if (request.type !== 'stop') return; // eslint-disable-line @typescript-eslint/no-unnecessary-condition -- a message from another thread: its type is a promise, not a proof
  // One last pass, so a clean stop leaves nothing behind when the store is reachable.
  stopping = true;
  if (timer !== undefined) {
    clearTimeout(timer);
    void cycle();
  }
});

void cycle();
