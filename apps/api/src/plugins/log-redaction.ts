/**
 * Credentials that travel in URLs never reach the log: the device access token in
 * ThingsBoard's /api/v1/<token>/... paths, and the `access_token` query parameter that
 * browsers' EventSource must use for the live stream (it cannot send headers).
 *
 * Route log serializers alone are not enough: the 404 handler (an unknown sub-path such as
 * /claim, a wrong method) has no route, error objects carry the URL in their message or
 * fields, and Fastify writes the URL into some messages. So every per-request logger is
 * built by one child-logger factory that redacts the `req` serializer, the `err`
 * serializer, every string field of the log object, and the message itself.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { stdSerializers } from 'pino';

const DEVICE_PATH = /(\/api\/v1\/)[^/?#\s"'<>]+/g;
const ACCESS_TOKEN = /([?&]access_token=)[^&#\s"']*/gi;
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const MAX_DEPTH = 6;

export function redactUrl(url: string): string {
  return url.replace(/^(\/api\/v1\/)[^/?]+/, '$1<token>').replace(ACCESS_TOKEN, '$1[redacted]');
}

/** Redacts every device-API path and access_token parameter anywhere in a text. */
export function redactText(text: string): string {
  if (!text.includes('/api/v1/') && !/access_token=/i.test(text)) return text;
  return text.replace(DEVICE_PATH, '$1<token>').replace(ACCESS_TOKEN, '$1[redacted]');
}

function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redactError(value, depth);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // Buffers, Dates, class instances
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, depth + 1);
  return out;
}

/** pino's error shape (type, message, stack, cause, own fields), with every string redacted. */
function redactError(err: Error, depth = 0): Record<string, unknown> {
  const serialized = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // for…in: pino's serialized error keeps message/stack as enumerable prototype properties.
  for (const k in serialized) out[k] = redactValue(serialized[k], depth + 1);
  return out;
}

const serializeReq = (req: FastifyRequest) => ({
  method: req.method,
  url: redactUrl(req.url),
  remoteAddress: req.ip,
});

/** The request logger of every route and of the 404 handler: redacted everywhere. */
function createRedactingChild(
  logger: FastifyBaseLogger,
  bindings: Record<string, unknown>,
  opts: { serializers?: Record<string, (v: never) => unknown> },
): FastifyBaseLogger {
  const child = logger.child(bindings, {
    ...opts,
    serializers: {
      ...opts.serializers,
      req: serializeReq,
      err: (err: unknown) => (err instanceof Error ? redactError(err) : redactValue(err)),
    },
    formatters: { log: (obj: Record<string, unknown>) => redactValue(obj) as Record<string, unknown> },
  } as Parameters<FastifyBaseLogger['child']>[1]);
  // Messages too (Fastify puts the URL in some of its own): wrap the level methods.
  const target = child as unknown as Record<string, (...args: unknown[]) => void>;
  for (const level of LEVELS) {
    const write = target[level];
    if (typeof write !== 'function') continue;
    target[level] = function (this: unknown, ...args: unknown[]) {
      return write.apply(
        this,
        args.map((a) => (typeof a === 'string' ? redactText(a) : a)),
      );
    };
  }
  return child;
}

/** Call before registering routes and plugins: every request logger redacts secrets in URLs. */
export function redactUrlsInRequestLogs(app: FastifyInstance): void {
  app.setChildLoggerFactory(createRedactingChild as Parameters<FastifyInstance['setChildLoggerFactory']>[0]);
}

/**
 * createRedactingChild, made when the request first writes a line at an enabled level. A route
 * answered thousands of times a second (the cached fleet status) mostly writes nothing when
 * LOG_LEVEL is above info, and making the redacting child for each request (pino's child with
 * its serializers and formatters, six wrapped methods) was ~4 % of such an answer's time. Every
 * line written still goes through createRedactingChild, whose child it is from then on. A
 * route's option: `{ childLoggerFactory: lazyRedactingChild }`.
 */
class LazyRedactingChild {
  private made: FastifyBaseLogger | undefined;
  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Record<string, unknown>,
    private readonly opts: { level?: string; serializers?: Record<string, (v: never) => unknown> },
  ) {}
  private get logger(): FastifyBaseLogger {
    this.made ??= createRedactingChild(this.parent, this.bindings, this.opts);
    return this.made;
  }
  /** Whether a line at this level would be written (at the parent's level, or the route's). */
  private enabled(level: (typeof LEVELS)[number]): boolean {
    if (this.made) return true;
    const parent = this.parent as unknown as { levels?: { values?: Record<string, number> }; levelVal?: number };
    const values = parent.levels?.values;
    const route = this.opts.level;
    const threshold =
      route === undefined ? parent.levelVal : route === 'silent' ? Number.POSITIVE_INFINITY : values?.[route];
    // not a pino logger: the child is made, as without this class
    if (values === undefined || threshold === undefined) return true;
    return (values[level] ?? 0) >= threshold;
  }
  get level(): string {
    return this.made ? this.made.level : (this.opts.level ?? this.parent.level);
  }
  set level(level: string) {
    this.logger.level = level;
  }
  silent(): void {}
  write(level: (typeof LEVELS)[number], args: unknown[]): void {
    if (this.enabled(level)) (this.logger[level] as (...a: unknown[]) => void)(...args);
  }
  child(...args: Parameters<FastifyBaseLogger['child']>): FastifyBaseLogger {
    return this.logger.child(...args);
  }
}

for (const level of LEVELS)
  Object.defineProperty(LazyRedactingChild.prototype, level, {
    value(this: LazyRedactingChild, ...args: unknown[]) {
      this.write(level, args);
    },
  });

export const lazyRedactingChild = ((
  logger: FastifyBaseLogger,
  bindings: Record<string, unknown>,
  opts: { level?: string; serializers?: Record<string, (v: never) => unknown> },
) => new LazyRedactingChild(logger, bindings, opts)) as unknown as Parameters<
  FastifyInstance['setChildLoggerFactory']
>[0];
