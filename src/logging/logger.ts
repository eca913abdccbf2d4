import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Field names are fixed (sessionId, connection, identity, reason, …) so
 * operators can query them; anything that looks like a credential is censored as a second line of
 * defence — the code never passes one in the first place.
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'idgate' },
      redact: {
        paths: ['password', 'token', 'secret', '*.password', '*.token', '*.secret', 'secretKey', '*.secretKey'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
