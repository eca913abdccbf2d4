import { PassThrough } from 'node:stream';
import { parse } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';

/**
 * Parses backend bytes with pg-protocol (node-postgres's parser), fed in the given chunks. Each
 * chunk is copied first: pg-protocol 1.16 drops messages when a chunk is a view at a non-zero
 * offset of a larger buffer (sockets always hand it fresh buffers, so node-postgres never sees it).
 */
export async function parseBackend(chunks: readonly Buffer[]): Promise<BackendMessage[]> {
  const stream = new PassThrough();
  const messages: BackendMessage[] = [];
  const done = parse(stream, (m) => messages.push(m));
  for (const c of chunks) stream.write(Buffer.from(c));
  stream.end();
  await done;
  return messages;
}
