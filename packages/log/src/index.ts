/**
 * pino everywhere: JSON by default, pretty only when stdout is a TTY. Secrets never reach
 * the log: known secret fields are redacted wherever they appear.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'apiKey',
  '*.apiKey',
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'authToken',
  '*.authToken',
];

export function createLogger(opts: { name: string; level?: string; pretty?: boolean } & LoggerOptions): Logger {
  const { name, level = 'info', pretty = process.stdout.isTTY === true, ...rest } = opts;
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } }
      : {}),
    ...rest,
  });
}
