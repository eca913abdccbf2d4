import { createHash } from 'node:crypto';
import { AccessError } from '../../../src/access-error.js';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { Secret } from '../../../src/config/secret.js';
import { STORED_PASSWORDS, type UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import type { MessageQueue, TypedMessage } from '../message-queue.js';
import { decodeAuthentication, decodeBackendKeyData, decodeParameterStatus } from '../wire/backend-messages.js';
import { AuthRequest, Backend } from '../wire/codes.js';
import { decodeErrorFields } from '../wire/error-fields.js';
import { encodePasswordMessage, encodeSaslInitialResponse, encodeSaslResponse, encodeStartupMessage } from '../wire/frontend-messages.js';
import type { ReadSource } from '../read-source.js';
import { connectUpstream, newUpstreamQueue, type UpstreamSocket } from './connect-upstream.js';
import { ScramClient, ScramError } from './scram-client.js';
import { errorMessage } from '../../../src/idgate-error.js';

export interface BackendKey {
  readonly processId: number;
  readonly secretKey: number;
}

/** An upstream connection that has logged in and is ready for the client's first query. */
export interface UpstreamSession {
  readonly socket: UpstreamSocket;
  /** Where the socket's bytes arrive (the relay takes it over). */
  readonly source: ReadSource;
  /** ParameterStatus and NoticeResponse frames the upstream sent after AuthenticationOk, raw and in order. */
  readonly startupFrames: readonly Buffer[];
  /** What the upstream reported in those ParameterStatus frames (server_version, client_encoding, …). */
  readonly parameters: ReadonlyMap<string, string>;
  readonly backendKey: BackendKey | undefined;
  /** The upstream's ReadyForQuery frame. */
  readonly readyForQuery: Buffer;
  /** Bytes received after ReadyForQuery, to be relayed first. */
  readonly leftover: Buffer;
}

/**
 * Logs in to the connection's upstream with the gateway's own credential (SCRAM-SHA-256, MD5 or
 * cleartext, as the server asks), within the connection's timeout. The client's user, database
 * and password never reach the upstream.
 */
export async function loginUpstream(
  connection: ConnectionConfig,
  parameters: ReadonlyMap<string, string>,
  passwords: UpstreamPasswords = STORED_PASSWORDS,
): Promise<UpstreamSession> {
  // A NUL would end a name or value early and let the rest be read as a parameter of its own (`role`…): never sent.
  for (const [name, value] of parameters) {
    if (name.includes('\0') || value.includes('\0')) {
      throw new AccessError('startup-parameter-refused', `startup parameter ${name.replaceAll('\0', '?')} holds a NUL byte`);
    }
  }
  // Before the socket opens: an Entra token may take a round trip to Entra, and the login timeout is for the database.
  const password = await passwords.password(connection);
  const queue = newUpstreamQueue();
  let socket: UpstreamSocket | undefined;
  let source: ReadSource | undefined;
  const deadline = setTimeout(() => {
    queue.fail(new AccessError('upstream-unreachable', 'the upstream database did not complete the login in time'));
    socket?.destroy();
  }, connection.connectTimeoutMs);
  try {
    ({ socket, source } = await connectUpstream(connection, queue));
    socket.write(encodeStartupMessage(startupParameters(parameters, connection)));
    await authenticate(queue, socket, connection, password);
    const session = await readUntilReady(queue, socket, source, connection);
    queue.detach();
    return session;
  } catch (e) {
    socket?.destroy();
    throw toAccessError(e, connection);
  } finally {
    clearTimeout(deadline);
  }
}

/**
 * The upstream's startup parameters: the session's, then the connection's user and database, and
 * client_encoding UTF8 last (the last value of a name wins): the gateway reads statements as UTF-8
 * for the scope check and the audit log, whatever encoding the client asked for.
 */
function startupParameters(parameters: ReadonlyMap<string, string>, connection: ConnectionConfig): [string, string][] {
  const named = new Map(parameters);
  for (const name of named.keys()) if (name.toLowerCase() === 'client_encoding') named.delete(name);
  named.set('user', connection.user);
  named.set('database', connection.database);
  return [...named, ['client_encoding', 'UTF8']];
}

async function authenticate(queue: MessageQueue, socket: UpstreamSocket, connection: ConnectionConfig, password: Secret): Promise<void> {
  let scram: ScramClient | undefined;
  for (;;) {
    const message = await queue.typed();
    if (message.code === Backend.ErrorResponse) throw rejected(message, connection);
    if (message.code === Backend.NegotiateProtocolVersion) continue;
    if (message.code !== Backend.Authentication) throw unexpected(message);
    const asked = decodeAuthentication(message.body);
    switch (asked.request) {
      case AuthRequest.Ok:
        return;
      case AuthRequest.CleartextPassword:
        socket.write(encodePasswordMessage(password.reveal()));
        break;
      case AuthRequest.MD5Password:
        socket.write(encodePasswordMessage(md5Password(connection.user, password.reveal(), asked.salt)));
        break;
      case AuthRequest.SASL:
        scram = startScram(asked.mechanisms, socket, password);
        break;
      case AuthRequest.SASLContinue:
        socket.write(encodeSaslResponse(await requireScram(scram).clientFinalMessage(asked.data)));
        break;
      case AuthRequest.SASLFinal:
        requireScram(scram).verifyServerFinal(asked.data);
        break;
      default:
        throw new AccessError(
          'upstream-rejected',
          `the upstream database asked for an authentication method the gateway does not support (${asked.code})`,
        );
    }
  }
}

function startScram(mechanisms: readonly string[], socket: UpstreamSocket, password: Secret): ScramClient {
  if (!mechanisms.includes('SCRAM-SHA-256')) {
    throw new AccessError('upstream-rejected', 'the upstream database offers no SASL mechanism the gateway supports');
  }
  const scram = new ScramClient(password.reveal());
  socket.write(encodeSaslInitialResponse('SCRAM-SHA-256', scram.clientFirstMessage()));
  return scram;
}

function requireScram(scram: ScramClient | undefined): ScramClient {
  if (scram === undefined) throw new ScramError('upstream sent a SASL continuation before starting SASL');
  return scram;
}

async function readUntilReady(
  queue: MessageQueue,
  socket: UpstreamSocket,
  source: ReadSource,
  connection: ConnectionConfig,
): Promise<UpstreamSession> {
  const startupFrames: Buffer[] = [];
  const parameters = new Map<string, string>();
  let backendKey: BackendKey | undefined;
  for (;;) {
    const message = await queue.typed();
    switch (message.code) {
      case Backend.ParameterStatus: {
        const { name, value } = decodeParameterStatus(message.body);
        parameters.set(name, value);
        startupFrames.push(message.frame);
        break;
      }
      case Backend.NoticeResponse:
        startupFrames.push(message.frame);
        break;
      case Backend.BackendKeyData:
        backendKey = decodeBackendKeyData(message.body);
        break;
      case Backend.ReadyForQuery:
        return { socket, source, startupFrames, parameters, backendKey, readyForQuery: message.frame, leftover: queue.takeRemaining() };
      case Backend.ErrorResponse:
        throw rejected(message, connection);
      default:
        throw unexpected(message);
    }
  }
}

function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password).update(user).digest('hex');
  return `md5${createHash('md5').update(inner).update(salt).digest('hex')}`;
}

function rejected(message: TypedMessage, connection: ConnectionConfig): AccessError {
  const fields = decodeErrorFields(message.body);
  const sqlstate = fields.get('C') ?? '';
  const upstreamSays = `${sqlstate} ${fields.get('M') ?? ''}`;
  // Refusals a client's driver knows to retry keep their meaning.
  if (sqlstate === '53300') {
    return new AccessError(
      'upstream-full',
      `the upstream database of connection "${connection.name}" has no connection slot free; try again`,
      undefined,
      upstreamSays,
    );
  }
  if (sqlstate === '57P03') {
    return new AccessError(
      'upstream-not-ready',
      `the upstream database of connection "${connection.name}" is not accepting connections now; try again`,
      undefined,
      upstreamSays,
    );
  }
  if (sqlstate.startsWith('28')) {
    return new AccessError(
      'upstream-rejected',
      `the upstream database refused the gateway's credential for connection "${connection.name}"`,
      undefined,
      upstreamSays,
    );
  }
  return new AccessError(
    'upstream-rejected',
    `the upstream database refused the session for connection "${connection.name}" (SQLSTATE ${sqlstate})`,
    undefined,
    upstreamSays,
  );
}

function unexpected(message: TypedMessage): AccessError {
  return new AccessError(
    'upstream-rejected',
    'the upstream database sent an unexpected message during login',
    undefined,
    `message type ${message.code}`,
  );
}

function toAccessError(e: unknown, connection: ConnectionConfig): AccessError {
  if (e instanceof AccessError) return e;
  if (e instanceof ScramError) {
    return new AccessError('upstream-rejected', `SCRAM login to the upstream of "${connection.name}" failed`, undefined, e.message);
  }
  return new AccessError(
    'upstream-unreachable',
    `the upstream database of "${connection.name}" closed the connection during login`,
    undefined,
    errorMessage(e),
  );
}
