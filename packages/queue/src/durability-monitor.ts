/**
 * Reads Redis' persistence settings and keeps the durability assessment current: checked at
 * start (refusing to start when REQUIRE_DURABLE_REDIS is set and acknowledgements would not
 * be durable), then re-checked periodically so a runtime `CONFIG SET appendonly no` shows up.
 */
import type { Logger } from '@spms/log';
import type { Redis } from 'ioredis';
import {
  assessDurability,
  type DurabilityAssessment,
  describeDurabilityRefusal,
  type RedisPersistenceSettings,
} from './durability-assess.js';

export interface DurabilityReport extends DurabilityAssessment {
  settings: RedisPersistenceSettings;
  /** Where the settings came from: CONFIG GET, INFO (CONFIG disabled or renamed), or nowhere. */
  source: 'config' | 'info' | 'unavailable';
  checkedAt: string;
}

export class DurabilityRequiredError extends Error {
  override name = 'DurabilityRequiredError';
}

// A Redis that is down must not hold start-up (an offline queue would wait for it): give up.
const TIMEOUT_MS = 2000;
function within<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function configGet(redis: Redis, key: string): Promise<string | null> {
  const r = (await within(redis.config('GET', key))) as unknown as string[];
  return r[1] ?? null;
}

const infoField = (info: string, key: string): string | null =>
  new RegExp(`^${key}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? null;

export async function readRedisPersistence(
  redis: Redis,
): Promise<{ settings: RedisPersistenceSettings; source: DurabilityReport['source'] }> {
  try {
    const [appendonly, appendfsync, maxmemoryPolicy] = await Promise.all(
      ['appendonly', 'appendfsync', 'maxmemory-policy'].map((k) => configGet(redis, k)),
    );
    return {
      settings: {
        appendonly: appendonly ?? null,
        appendfsync: appendfsync ?? null,
        maxmemoryPolicy: maxmemoryPolicy ?? null,
      },
      source: 'config',
    };
  } catch {
    // Managed Redis often disables or renames CONFIG; INFO still tells AOF and eviction.
  }
  try {
    const [persistence, memory] = await within(Promise.all([redis.info('persistence'), redis.info('memory')]));
    const aof = infoField(persistence, 'aof_enabled');
    return {
      settings: {
        appendonly: aof === null ? null : aof === '1' ? 'yes' : 'no',
        appendfsync: null,
        maxmemoryPolicy: infoField(memory, 'maxmemory_policy'),
      },
      source: 'info',
    };
  } catch {
    return { settings: { appendonly: null, appendfsync: null, maxmemoryPolicy: null }, source: 'unavailable' };
  }
}

export async function checkRedisDurability(redis: Redis): Promise<DurabilityReport> {
  const { settings, source } = await readRedisPersistence(redis);
  return { ...assessDurability(settings), settings, source, checkedAt: new Date().toISOString() };
}

export interface DurabilityMonitor {
  current(): DurabilityReport;
  stop(): void;
}

/**
 * First check now (throws DurabilityRequiredError when `require` and not durable), then every
 * `intervalMs`. Logs at warn level when acknowledgements are not durable, and on each change.
 */
export async function startDurabilityMonitor(opts: {
  redis: Redis;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  require: boolean;
  intervalMs?: number;
  onReport?: (r: DurabilityReport) => void;
}): Promise<DurabilityMonitor> {
  const { logger } = opts;
  let report = await checkRedisDurability(opts.redis);
  if (opts.require && !report.durable) throw new DurabilityRequiredError(describeDurabilityRefusal(report));
  const say = (r: DurabilityReport) => {
    if (r.durable) logger.info({ durability: r }, 'Redis persistence: acknowledged messages are durable');
    else
      logger.warn(
        { durability: r },
        `acknowledgements (PUBACK, HTTP 200) are NOT durable — a Redis restart loses acknowledged but unprocessed messages: ${r.problems.join('; ')}`,
      );
  };
  say(report);
  opts.onReport?.(report);
  const timer = setInterval(() => {
    checkRedisDurability(opts.redis).then(
      (next) => {
        // Redis unreachable: /readyz reports that; keep the last real reading.
        if (next.source === 'unavailable' && report.source !== 'unavailable') return;
        const changed = next.durable !== report.durable || next.problems.join() !== report.problems.join();
        report = next;
        if (changed) {
          if (!next.durable && opts.require)
            logger.error({ durability: next }, 'REQUIRE_DURABLE_REDIS=true but Redis is no longer durable');
          say(next);
        }
        opts.onReport?.(next);
      },
      () => {},
    );
  }, opts.intervalMs ?? 60_000);
  timer.unref();
  return { current: () => report, stop: () => clearInterval(timer) };
}
