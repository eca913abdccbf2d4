/**
 * What the statement gate costs on its own, per pgbench -S round trip, in one process without
 * sockets: the client's frames through the gate's client stage, the server's answer through its
 * server stage, as a `scope: read` session's frame streams carry them. Run it in two checkouts to
 * compare builds side by side: `node --import tsx test/bench/gate-path.ts`.
 */
import { StatementGate } from '../../protocols/postgres/policy/statement-gate.js';
import { FrameStream } from '../../protocols/postgres/wire/frame-stream.js';
import { parseScope } from '../../src/config/scope.js';
import { Bytes } from '../support/byte-builder.js';
import { analysisContext } from '../support/sql-analysis.js';

const SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';
const ROUNDS = 200_000;
const BURSTS = 7;

const simple = {
  client: new Bytes().cstring(SQL.replace('$1', '4711')).frame('Q'),
  server: Buffer.concat([
    new Bytes().int16(1).cstring('abalance').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).frame('T'),
    new Bytes().int16(1).int32(1).raw(Buffer.from('0')).frame('D'),
    new Bytes().cstring('SELECT 1').frame('C'),
    new Bytes().raw(Buffer.from('I')).frame('Z'),
  ]),
};
const extended = {
  client: Buffer.concat([
    new Bytes().cstring('').cstring(SQL).int16(0).frame('P'),
    new Bytes().cstring('').cstring('').int16(0).int16(1).int32(4).raw(Buffer.from('4711')).int16(0).frame('B'),
    new Bytes().raw(Buffer.from('P')).cstring('').frame('D'),
    new Bytes().cstring('').int32(0).frame('E'),
    new Bytes().frame('S'),
  ]),
  server: Buffer.concat([
    new Bytes().frame('1'),
    new Bytes().frame('2'),
    new Bytes().int16(1).cstring('abalance').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).frame('T'),
    new Bytes().int16(1).int32(1).raw(Buffer.from('0')).frame('D'),
    new Bytes().cstring('SELECT 1').frame('C'),
    new Bytes().raw(Buffer.from('I')).frame('Z'),
  ]),
};

async function main(): Promise<void> {
  const context = await analysisContext();
  const events = {
    pinnedApplicationName: (asked: string) => asked,
    denied: () => undefined,
    lexicalStateChanged: () => undefined,
    approvalNeeded: () => ({ kind: 'too-many', limit: 0 }) as const,
  };
  for (const [name, trip] of Object.entries({ simple, extended })) {
    const gate = new StatementGate(parseScope('read'), context, events);
    const up = new FrameStream([gate.clientStage]);
    const down = new FrameStream([gate.serverStage]);
    const times: number[] = [];
    for (let burst = 0; burst < BURSTS; burst++) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < ROUNDS; i++) {
        up.push(trip.client);
        down.push(trip.server);
      }
      times.push(Number(process.hrtime.bigint() - started) / ROUNDS);
    }
    times.sort((a, b) => a - b);
    console.log(
      `gate, scope read, ${name}: median ${times[BURSTS >> 1]?.toFixed(0)} ns per round trip (bursts ${times[0]?.toFixed(0)}–${times.at(-1)?.toFixed(0)})`,
    );
  }
}

await main();
