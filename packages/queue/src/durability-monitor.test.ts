/**
 * The durability check against real Redis servers: this machine's shared Redis (no
 * persistence: not durable), and private redis-servers started here with AOF on, with
 * CONFIG disabled (INFO fallback), and changed at runtime with CONFIG SET.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@spms/log';
import { freePort } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRedisDurability, DurabilityRequiredError, startDurabilityMonitor } from './durability-monitor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = createLogger({ name: 'durability-test', level: 'silent' });
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** A private redis-server (AOF on, no RDB) in a temporary directory; a client connected to it. */
async function privateRedis(extra: string[] = []): Promise<Redis> {
  const dir = await mkdtemp(join(tmpdir(), 'spms-durability-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'];
  const child: ChildProcess = spawn('redis-server', [...args, ...extra], { stdio: 'ignore' });
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 20, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  cleanups.push(() => client.disconnect());
  for (let i = 0; i < 250; i++) {
    try {
      if (client.status === 'wait' || client.status === 'end') await client.connect();
      if ((await client.ping()) === 'PONG') return client;
    } catch {
      await sleep(20);
    }
  }
  throw new Error('redis-server did not start');
}

describe('Redis durability check', () => {
  it("the shared Redis (--appendonly no) is not durable, and REQUIRE refuses with the variable's name", async () => {
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    cleanups.push(() => redis.disconnect());
    const r = await checkRedisDurability(redis);
    expect(r.source).toBe('config');
    expect(r.settings.appendonly).toBe('no');
    expect(r.durable).toBe(false);
    const refused = startDurabilityMonitor({ redis, logger, require: true });
    await expect(refused).rejects.toBeInstanceOf(DurabilityRequiredError);
    await expect(refused).rejects.toThrow(/REQUIRE_DURABLE_REDIS=true[\s\S]*appendonly yes/);
  });

  it('a private redis-server with AOF on is durable (everysec noted)', async () => {
    const redis = await privateRedis();
    const m = await startDurabilityMonitor({ redis, logger, require: true });
    m.stop();
    expect(m.current()).toMatchObject({
      durable: true,
      source: 'config',
      settings: { appendonly: 'yes', appendfsync: 'everysec', maxmemoryPolicy: 'noeviction' },
    });
  });

  it('falls back to INFO when CONFIG is disabled, and says appendfsync is unknown', async () => {
    const redis = await privateRedis(['--rename-command', 'CONFIG', '']);
    const r = await checkRedisDurability(redis);
    expect(r).toMatchObject({ source: 'info', durable: true, settings: { appendonly: 'yes', appendfsync: null } });
    expect(r.notes.join()).toMatch(/appendfsync unknown/);
  });

  it('a runtime CONFIG SET appendonly no shows up at the next re-check', async () => {
    const redis = await privateRedis();
    const m = await startDurabilityMonitor({ redis, logger, require: false, intervalMs: 100 });
    cleanups.push(() => m.stop());
    expect(m.current().durable).toBe(true);
    await redis.config('SET', 'appendonly', 'no');
    for (let i = 0; i < 100 && m.current().durable; i++) await sleep(50);
    expect(m.current().durable).toBe(false);
    expect(m.current().problems[0]).toMatch(/appendonly is "no"/);
  });
});
