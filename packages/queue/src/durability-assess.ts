/**
 * Are acknowledgements durable? A QoS 1 PUBACK or an HTTP 200 is sent once the message is
 * in Redis (BullMQ), so it is only as durable as Redis' persistence. Pure: the settings come
 * from durability-monitor.ts (CONFIG GET, or INFO when CONFIG is disabled).
 */

/** Redis' own spelling of the three settings; null = could not be read. */
export interface RedisPersistenceSettings {
  appendonly: string | null;
  appendfsync: string | null;
  maxmemoryPolicy: string | null;
}

export interface DurabilityAssessment {
  durable: boolean;
  /** Why acknowledged messages can be lost (empty when durable). */
  problems: string[];
  /** Worth knowing but not a loss on a Redis restart (e.g. everysec's last second). */
  notes: string[];
}

export function assessDurability(s: RedisPersistenceSettings): DurabilityAssessment {
  const problems: string[] = [];
  const notes: string[] = [];
  const aof = s.appendonly?.toLowerCase() ?? null;
  if (aof === null)
    problems.push('appendonly unknown (CONFIG GET and INFO persistence unavailable): cannot confirm the AOF is on');
  else if (aof !== 'yes')
    problems.push(
      `appendonly is "${s.appendonly}": Redis keeps queued messages only in memory (RDB snapshots at best), so a restart loses every acknowledged but unprocessed message — set appendonly yes`,
    );
  if (aof === 'yes') {
    const fsync = s.appendfsync?.toLowerCase() ?? null;
    if (fsync === 'no')
      problems.push(
        'appendfsync is "no": the operating system decides when the AOF reaches the disk (often 30 s), so a power loss loses acknowledged messages — set appendfsync everysec or always',
      );
    else if (fsync === 'everysec')
      notes.push(
        'appendfsync everysec: up to about 1 s of acknowledged messages can be lost on a power loss (always: none)',
      );
    else if (fsync === null) notes.push('appendfsync unknown (CONFIG GET unavailable): everysec or always expected');
  }
  const policy = s.maxmemoryPolicy?.toLowerCase() ?? null;
  if (policy === null)
    problems.push('maxmemory-policy unknown: cannot confirm Redis never evicts queued messages (noeviction)');
  else if (policy !== 'noeviction')
    problems.push(
      `maxmemory-policy is "${s.maxmemoryPolicy}": under memory pressure Redis may evict queue keys (acknowledged messages) — set maxmemory-policy noeviction`,
    );
  return { durable: problems.length === 0, problems, notes };
}

/** The refusal REQUIRE_DURABLE_REDIS=true gives at start-up: the variable and what to change in Redis. */
export function describeDurabilityRefusal(a: DurabilityAssessment): string {
  return [
    'REQUIRE_DURABLE_REDIS=true, but Redis does not keep acknowledged messages durably:',
    ...a.problems.map((p) => `  - ${p}`),
    'Change Redis (redis.conf, or CONFIG SET appendonly yes / appendfsync everysec / maxmemory-policy noeviction followed by CONFIG REWRITE), or unset REQUIRE_DURABLE_REDIS to run without the guarantee.',
  ].join('\n');
}
