import { ByteReader } from '../wire/byte-reader.js';
import { decodeBackendFrame, type DecodedOutcome } from './backend-events.js';
import { decodeFrontendFrame, type StatementTypes } from './frontend-events.js';

/** The event kind under which a chunk's raw frames are stored. */
export const RAW_FRAMES_KIND = 'pg-frames';

/**
 * A frame whose content is not kept (CopyData without `record: full`, a PasswordMessage, an
 * unknown type) is stored as this marker, its type and its length: 6 bytes instead of the frame.
 */
const ELIDED = 0x00;

/**
 * Collects the frames of one chunk, as they pass, into one stored event: the frames' own bytes,
 * decoded only when someone reads the log. The relay's cost is a copy, not a parse.
 */
export class RawFrameBatch {
  private parts: Buffer[] = [];
  statements = 0;
  errors = 0;

  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  add(frame: Buffer): void {
    this.parts.push(frame);
  }

  addElided(code: number, length: number): void {
    const marker = Buffer.allocUnsafe(6);
    marker[0] = ELIDED;
    marker[1] = code;
    marker.writeInt32BE(length, 2);
    this.parts.push(marker);
  }

  /** The frames (views of the chunk: the recorder copies them before the relay reuses it), then reset. */
  take(): Buffer[] {
    const parts = this.parts;
    this.parts = [];
    this.statements = 0;
    this.errors = 0;
    return parts;
  }
}

/** Decodes a stored chunk of client frames into events, in order. */
export function decodeClientFrames(base64: string, types: StatementTypes, full: boolean): DecodedOutcome[] {
  return eachFrame(base64, (code, frame, length) => {
    try {
      return decodeFrontendFrame(code, frame, length, types, full);
    } catch {
      return { kind: 'Malformed', data: { code: String.fromCharCode(code), bytes: length - 4 } };
    }
  });
}

/** Decodes a stored chunk of server frames into outcome events, in order. */
export function decodeServerFrames(base64: string): DecodedOutcome[] {
  return eachFrame(base64, (code, frame) => {
    if (frame === undefined) return undefined;
    try {
      return decodeBackendFrame(code, frame);
    } catch {
      return { kind: 'Malformed', data: { code: String.fromCharCode(code) } };
    }
  });
}

function eachFrame(base64: string, decode: (code: number, frame: Buffer | undefined, length: number) => DecodedOutcome | undefined): DecodedOutcome[] {
  const bytes = Buffer.from(base64, 'base64');
  const out: DecodedOutcome[] = [];
  const r = new ByteReader(bytes);
  while (r.remaining > 0) {
    const code = r.bytes(1)[0] ?? 0;
    if (code === ELIDED) {
      const elidedCode = r.bytes(1)[0] ?? 0;
      const event = decode(elidedCode, undefined, r.int32());
      if (event) out.push(event);
      continue;
    }
    const length = r.int32();
    const body = r.bytes(length - 4);
    const frame = Buffer.concat([Buffer.from([code]), lengthBytes(length), body]);
    const event = decode(code, frame, length);
    if (event) out.push(event);
  }
  return out;
}

function lengthBytes(length: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(length);
  return b;
}
