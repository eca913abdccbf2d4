import { StatementRejected } from './statement-rejected.js';

/**
 * The longest statement the gateway analyses. Parsing takes about 0.5 ms per KB and 70 bytes of
 * parser memory per byte of SQL (WebAssembly memory never shrinks): one megabyte is half a second
 * of the analysis thread (statements from 16 K characters are parsed there, not on the relay
 * thread). Large data belongs in parameters or COPY, which are not parsed.
 */
export const MAX_ANALYSED_STATEMENT_BYTES = 1 << 20;

// fatal: invalid UTF-8 is refused, never replaced; ignoreBOM: a leading U+FEFF stays, as the server keeps it.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A statement's text exactly as the server will read it under the pinned lexical state
 * (client_encoding UTF8): strict UTF-8, so two different byte strings never decode to the same text.
 */
export function decodeStatement(bytes: Uint8Array): string {
  if (bytes.length > MAX_ANALYSED_STATEMENT_BYTES) {
    throw new StatementRejected(
      'sql-too-long',
      '54000',
      `statement of ${bytes.length} bytes is longer than the ${MAX_ANALYSED_STATEMENT_BYTES} bytes the gateway analyses`,
    );
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new StatementRejected('sql-encoding', '22021', 'invalid byte sequence for encoding "UTF8"');
  }
}
