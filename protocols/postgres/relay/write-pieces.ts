import type { Duplex } from 'node:stream';

/** What a frame stream gives back for one read: one buffer, or several to write as one burst. */
export type Pieces = Buffer | readonly Buffer[];

export function byteLength(pieces: Pieces): number {
  if (Buffer.isBuffer(pieces)) return pieces.length;
  let total = 0;
  for (const piece of pieces) total += piece.length;
  return total;
}

/** Writes the pieces as one burst (corked); false when the destination wants no more for now. */
export function writeAll(destination: Duplex, pieces: Pieces): boolean {
  if (Buffer.isBuffer(pieces)) return destination.write(pieces);
  if (pieces.length === 1) return destination.write(pieces[0]);
  if (pieces.length === 0) return destination.writableLength < destination.writableHighWaterMark;
  destination.cork();
  let ok = true;
  for (const piece of pieces) ok = destination.write(piece);
  destination.uncork();
  return ok;
}
