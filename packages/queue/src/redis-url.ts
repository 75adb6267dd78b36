/**
 * Where Redis is, from REDIS_URL alone, so every app and package that opens a connection
 * reads the same setting (the connection itself is made by createRedis, redis-connection.ts):
 *
 * - `redis://[user:pass@]host:port[/db]` (or `rediss://` for TLS): one server;
 * - `redis+sentinel://[user:pass@]host:26379,host:26379/<master name>[/db]`: Sentinel finds
 *   the current primary and follows a failover (`rediss+sentinel://` for TLS to Redis;
 *   `?sentinelPassword=…` when the sentinels require one). user/pass are the Redis server's;
 * - `redis+cluster://[user:pass@]host:port,host:port`: Redis Cluster, seeded from these nodes.
 *   Every key SPMS uses starts with REDIS_PREFIX, so a prefix holding a hash tag (`{spms}`)
 *   puts them all in one slot: BullMQ's and SPMS's multi-key scripts need that.
 *
 * Pure parsing, no I/O.
 */

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: RedisNode[];
      name: string;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      db: number;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: RedisNode[]; username?: string; password?: string; tls: boolean };

const SCHEME = /^(rediss?)(\+sentinel|\+cluster)?:\/\/(?:([^@/]*)@)?([^/?]+)(\/[^?]*)?(?:\?(.*))?$/;

function parseNodes(list: string, defaultPort: number, url: string): RedisNode[] {
  return list.split(',').map((part) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(part.trim());
    if (!m?.[1]) throw new Error(`REDIS_URL: "${part}" is not host or host:port (in ${redact(url)})`);
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (!(port > 0 && port < 65536)) throw new Error(`REDIS_URL: port of "${part}" is not 1-65535`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** The URL with any password replaced, for messages (secrets are never echoed). */
export function redact(url: string): string {
  return url.replace(
    /\/\/([^@/]*)@/,
    (_all, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`,
  );
}

export function parseRedisUrl(url: string): RedisTarget {
  const m = SCHEME.exec(url);
  if (!m) throw new Error(`REDIS_URL: not a redis://, redis+sentinel:// or redis+cluster:// URL (${redact(url)})`);
  const [, scheme, mode, auth, hosts = '', path = '', query = ''] = m;
  if (!mode) return { kind: 'single', url };
  const tls = scheme === 'rediss';
  const [user, pass] = auth ? auth.split(/:(.*)/s).map(decodeURIComponent) : [];
  const creds = { ...(user ? { username: user } : {}), ...(pass ? { password: pass } : {}) };
  if (mode === '+cluster') return { kind: 'cluster', nodes: parseNodes(hosts, 6379, url), tls, ...creds };
  const [name, db = '0'] = path.replace(/^\//, '').split('/');
  if (!name) throw new Error('REDIS_URL: redis+sentinel:// needs the master name as its path (…:26379/mymaster)');
  if (!/^\d+$/.test(db)) throw new Error(`REDIS_URL: database "${db}" is not a number`);
  const sentinelPassword = new URLSearchParams(query).get('sentinelPassword') ?? undefined;
  return {
    kind: 'sentinel',
    sentinels: parseNodes(hosts, 26379, url),
    name: decodeURIComponent(name),
    db: Number(db),
    tls,
    ...creds,
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/**
 * Whether every key starting with `prefix` hashes to one Redis Cluster slot: Redis hashes
 * only the part between the key's first `{` and the next `}` when that part is not empty,
 * so the prefix must hold a complete, non-empty tag.
 */
export function isHashTagged(prefix: string): boolean {
  const open = prefix.indexOf('{');
  if (open < 0) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
}

/** null when REDIS_URL and REDIS_PREFIX fit together, else what to change. */
export function redisLayoutProblem(url: string, prefix: string): string | null {
  let target: RedisTarget;
  try {
    target = parseRedisUrl(url);
  } catch (err) {
    return (err as Error).message;
  }
  if (target.kind === 'cluster' && !isHashTagged(prefix))
    return `REDIS_PREFIX: on Redis Cluster (REDIS_URL redis+cluster://) it must hold a hash tag so every key lands in one slot, e.g. REDIS_PREFIX={${prefix.replace(/[{}]/g, '') || 'spms'}}`;
  return null;
}
