/**
 * Each app describes its configuration as one TypeBox object schema (keys are the
 * environment variable names) and parses it once at start-up with `parseConfig`.
 * Packages never read process.env: apps pass the parsed values down.
 */
import Type, { type Static, type TObject, type TProperties } from 'typebox';
import Value from 'typebox/value';

export { type Static, Type };

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Converts strings to the schema's types ("8080" → 8080, "true" → true), applies defaults,
 * and validates. Unknown variables are ignored (the environment holds many). Throws a
 * ConfigError naming every bad variable; values are never echoed, since they may be secrets.
 * `checks` then look at the parsed whole (rules across variables): each returns a problem or
 * nothing (null/undefined), and every problem found is thrown together in one ConfigError.
 */
export function parseConfig<T extends TProperties>(
  schema: TObject<T>,
  env: Record<string, string | undefined>,
  ...checks: ((config: Static<TObject<T>>) => string | null | undefined)[]
): Static<TObject<T>> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    // An empty variable means "not set", as in most twelve-factor tooling.
    if (raw !== undefined && raw !== '') picked[key] = raw;
  }
  const value = Value.Default(schema, Value.Convert(schema, picked));
  if (Value.Check(schema, value)) {
    const config = value as Static<TObject<T>>;
    const problems = checks.map((check) => check(config)).filter((p): p is string => typeof p === 'string');
    if (problems.length) throw new ConfigError(problems);
    return config;
  }
  const problems = [...Value.Errors(schema, value)].map((e) => {
    if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      return `${missing.join(', ')}: required but not set`;
    }
    const name = e.instancePath.replace(/^\//, '') || '(root)';
    const property = schema.properties[name] as { description?: string } | undefined;
    const hint = property?.description ? ` (${property.description})` : '';
    return `${name}: ${e.message}${hint}`;
  });
  throw new ConfigError(problems);
}

// Shared fragments, so every app spells the standard variables the same way.
export const DatabaseUrl = Type.String({
  minLength: 1,
  pattern: '^postgres(ql)?://',
  description: 'PostgreSQL connection URL, e.g. postgresql://localhost:5432/spms',
});
export const RedisUrl = Type.String({
  default: 'redis://127.0.0.1:6379',
  pattern: '^rediss?(\\+sentinel|\\+cluster)?://',
  description:
    'Redis connection URL: redis://host:6379, redis+sentinel://host:26379,host:26379/<master name>, or redis+cluster://host:6379,host:6379',
});
export const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  { default: 'info', description: 'one of fatal, error, warn, info, debug, trace, silent' },
);
export function Port(defaultPort: number) {
  return Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort, description: 'a TCP port number' });
}
/**
 * Key prefix for everything SPMS keeps in Redis (queues, caches, pub/sub channels). Braces
 * are allowed for a Redis Cluster hash tag (`{spms}`: every key in one slot).
 */
export const RedisPrefix = Type.String({
  default: 'spms',
  pattern: '^[A-Za-z0-9_:.{}-]+$',
  description: 'letters, digits and _ : . - { } (e.g. spms, or {spms} on Redis Cluster)',
});

/**
 * The variables every server process (broker, worker, API, alerts) reads, spelled once:
 * spread into the process's schema.
 */
export const ServiceConfigProps = {
  DATABASE_URL: DatabaseUrl,
  REDIS_URL: RedisUrl,
  REDIS_PREFIX: RedisPrefix,
  LOG_LEVEL: LogLevel,
  /** Refuse to start unless Redis keeps acknowledged messages and jobs durably (AOF on, noeviction). */
  REQUIRE_DURABLE_REDIS: Type.Boolean({ default: false, description: 'true or false' }),
};
