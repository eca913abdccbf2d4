/** The chunks of a pgbench -S round trip as pgbench sends them and Postgres answers, for the in-process benches. */
import { Bytes } from '../support/byte-builder.js';

const SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';

/** The chunks of one round trip as pgbench sends and Postgres answers them. */
export const ROUND_TRIP = {
  simple: {
    client: new Bytes().cstring(SQL.replace('$1', '4711')).frame('Q'),
    server: Buffer.concat([rowDescription(), dataRow(), new Bytes().cstring('SELECT 1').frame('C'), new Bytes().raw('I').frame('Z')]),
  },
  extended: {
    client: Buffer.concat([
      new Bytes().cstring('').cstring(SQL).int16(0).frame('P'),
      new Bytes().cstring('').cstring('').int16(0).int16(1).int32(4).raw('4711').int16(0).frame('B'),
      new Bytes().raw('P').cstring('').frame('D'),
      new Bytes().cstring('').int32(0).frame('E'),
      new Bytes().frame('S'),
    ]),
    server: Buffer.concat([
      new Bytes().frame('1'),
      new Bytes().frame('2'),
      rowDescription(),
      dataRow(),
      new Bytes().cstring('SELECT 1').frame('C'),
      new Bytes().raw('I').frame('Z'),
    ]),
  },
};

function rowDescription(): Buffer {
  return new Bytes().int16(1).cstring('abalance').int32(16400).int16(3).int32(23).int16(4).int32(-1).int16(0).frame('T');
}

function dataRow(): Buffer {
  return new Bytes().int16(1).int32(4).raw('1234').frame('D');
}

export type Chunks = (typeof ROUND_TRIP)['simple'];
