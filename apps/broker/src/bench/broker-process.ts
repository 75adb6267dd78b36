/**
 * What the broker benchmarks share: a fleet of access-token devices seeded straight into a
 * test database, and one built broker process (dist/main.js) started on free loopback ports
 * with the abuse limits off (the benchmarks measure capacity, not the limits).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { accessTokenKey } from '@spms/credentials';
import { createPool } from '@spms/db';
import { freePort } from '@spms/testing';

/** Capacity runs: no connection cap, no per-address rate limits, no per-device message rate. */
export const NO_LIMITS = {
  MAX_CONNECTIONS: '0',
  CONNECT_RATE_PER_IP: '0',
  AUTH_FAILURES_PER_IP: '0',
  DEVICE_MSG_RATE: '0',
} as const;

/**
 * Inserts `count` devices named `<name>-<i>` under one profile, each with the access token
 * `<name>-token-<i>`, in two statements; returns the tokens in device order.
 */
export async function seedTokenDevices(
  dbUrl: string,
  count: number,
  name: string,
  profileId: string,
): Promise<string[]> {
  const sql = createPool(dbUrl, { max: 1 });
  try {
    await sql.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'bench', now())`, [profileId]);
    const tokens = Array.from({ length: count }, (_, i) => `${name}-token-${i}`);
    await sql.query(
      `WITH d AS (
         INSERT INTO devices (id, name, profile_id, updated_at)
         SELECT gen_random_uuid(), $4 || '-' || i, $1, now() FROM generate_series(0, $2::int - 1) i RETURNING id, name)
       INSERT INTO device_credentials (device_id, type, credentials_id, updated_at)
       SELECT d.id, 'ACCESS_TOKEN', k.key, now() FROM d JOIN unnest($3::text[]) WITH ORDINALITY k(key, n) ON d.name = $4 || '-' || (k.n - 1)`,
      [profileId, count, tokens.map(accessTokenKey), name],
    );
    return tokens;
  } finally {
    await sql.end();
  }
}

export interface BrokerProcess {
  child: ChildProcess;
  mqttPort: number;
  httpPort: number;
}

/**
 * Starts apps/broker/dist/main.js with `nodeArgs` before the entry (profiling flags, a
 * preloaded probe) and waits up to 30 s for its /readyz. `ipc` opens a message channel.
 */
export async function startBrokerProcess(opts: {
  dbUrl: string;
  redisUrl: string;
  prefix: string;
  nodeArgs?: string[];
  ipc?: boolean;
  /** Extra environment for the broker only (an allocator to preload, say). */
  env?: Record<string, string>;
}): Promise<BrokerProcess> {
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), main], {
    env: {
      ...process.env,
      DATABASE_URL: opts.dbUrl,
      REDIS_URL: opts.redisUrl,
      REDIS_PREFIX: opts.prefix,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'warn',
      ...NO_LIMITS,
      ...opts.env,
    },
    stdio: opts.ipc ? ['ignore', 'ignore', 'inherit', 'ipc'] : ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error('broker exited during start-up');
    const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 150) throw new Error('broker not ready after 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, mqttPort, httpPort };
}
