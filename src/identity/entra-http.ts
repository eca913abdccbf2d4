import { Agent, request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { IdgateError } from '../idgate-error.js';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface EntraHttpOptions {
  /** Extra CA certificates (PEM) trusted besides the system's: a private cloud, a proxy, the simulator. */
  readonly ca?: Buffer | string;
  readonly timeoutMs: number;
}

/** Entra's answers (key sets, tokens, Graph pages) are small; a far larger body is refused. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export class HttpError extends IdgateError {
  override readonly name = 'HttpError';
  constructor(
    override readonly code: 'timeout' | 'too-large' | 'network' | 'status' | 'bad-body',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The one HTTPS client the gateway uses to reach Entra and Microsoft Graph (key sets, msal-node's
 * token requests, Graph calls): keep-alive, a timeout, a bounded body, and the configured CA.
 * Only https:// is spoken, so a token never crosses the network in clear.
 */
export class EntraHttp {
  private readonly agent: Agent;

  constructor(private readonly options: EntraHttpOptions) {
    const ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca.toString()];
    this.agent = new Agent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) });
  }

  get(url: string, headers: Record<string, string> = {}, timeoutMs = this.options.timeoutMs): Promise<HttpResponse> {
    return this.send('GET', url, headers, undefined, timeoutMs);
  }

  post(url: string, headers: Record<string, string>, body: string): Promise<HttpResponse> {
    return this.send('POST', url, headers, body, this.options.timeoutMs);
  }

  close(): void {
    this.agent.destroy();
  }

  private send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<HttpResponse> {
    const target = new URL(url);
    if (target.protocol !== 'https:') {
      return Promise.reject(new HttpError('network', `refusing to call ${target.origin}: only https is used`));
    }
    return new Promise((resolve, reject) => {
      const req = request(
        target,
        { method, agent: this.agent, headers: { accept: 'application/json', ...headers }, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new HttpError('too-large', `the answer from ${target.host} is larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (e) => reject(toHttpError(e, target)));
        },
      );
      req.on('timeout', () => req.destroy(new HttpError('timeout', `no answer from ${target.host} within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(toHttpError(e, target)));
      req.end(body);
    });
  }
}

function flattenHeaders(headers: NodeJS.Dict<string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function toHttpError(e: Error, target: URL): HttpError {
  return e instanceof HttpError
    ? e
    : new HttpError('network', `cannot reach ${target.host}: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
}
