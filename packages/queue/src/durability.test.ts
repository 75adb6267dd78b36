/**
 * The durability test: a private redis-server with AOF (`appendfsync always`, so
 * an acknowledged write is on disk before the reply), killed with SIGKILL under load and
 * restarted on the same directory and port. Every enqueue that resolved must be in the
 * queue afterwards; enqueues during the outage must reject; the producer must recover by
 * itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, readIngestBatches } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { IngestMessage } from './contracts.js';
import { newMessageId } from './ids.js';
import { createIngestProducer } from './ingest-producer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir = '';
let server: ChildProcess | undefined;

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    retryStrategy: () => 20,
    maxRetriesPerRequest: null,
  });
  probe.on('error', () => {});
  try {
    for (let i = 0; i < 300; i++) {
      try {
        if (probe.status === 'wait') await probe.connect();
        if ((await probe.ping()) === 'PONG') return child;
      } catch {
        await sleep(20);
      }
    }
    throw new Error('redis-server did not start');
  } finally {
    probe.disconnect();
  }
}

afterAll(async () => {
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('durability across kill -9 of Redis (AOF)', () => {
  it('keeps every acknowledged message, rejects during the outage, recovers alone', async () => {
    dir = await mkdtemp(join(tmpdir(), 'spms-aof-'));
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    server = await startRedis(port);
    const producer = createIngestProducer({ redisUrl: url, prefix: 'spms', enqueueTimeoutMs: 500 });
    const resolved: string[] = [];
    const outcomes: Array<{ start: number; end: number; ok: boolean }> = [];
    let stop = false;
    const load = async (worker: number) => {
      for (let n = 0; !stop; n++) {
        const msg: IngestMessage = {
          id: newMessageId(),
          kind: 'telemetry',
          deviceId: `dev-${worker}`,
          receivedAt: Date.now(),
          transport: 'mqtt',
          entries: [{ values: { V: 230, n } }],
        };
        const start = performance.now();
        try {
          await producer.enqueue(msg);
          resolved.push(msg.id);
          outcomes.push({ start, end: performance.now(), ok: true });
        } catch {
          outcomes.push({ start, end: performance.now(), ok: false });
          await sleep(5); // a device backs off too
        }
      }
    };
    const workers = Array.from({ length: 100 }, (_, i) => load(i));
    try {
      await sleep(400);
      const before = resolved.length;
      server.kill('SIGKILL');
      const killedAt = performance.now();
      await sleep(400);
      const restartAt = performance.now();
      server = await startRedis(port);
      for (let i = 0; i < 500 && !producer.isHealthy(); i++) await sleep(10);
      const afterRestart = resolved.length;
      await sleep(400);
      stop = true;
      await Promise.all(workers);

      expect(before).toBeGreaterThan(100);
      // Recovered without a restart of the producer.
      expect(producer.isHealthy()).toBe(true);
      expect(resolved.length).toBeGreaterThan(afterRestart);
      // Enqueues that began after the kill and ended before the restart all failed.
      const duringOutage = outcomes.filter((o) => o.start > killedAt + 1 && o.end < restartAt);
      expect(duringOutage.length).toBeGreaterThan(0);
      expect(duringOutage.every((o) => !o.ok)).toBe(true);
      expect(producer.stats().failedMessages).toBeGreaterThan(0);
    } finally {
      stop = true;
      await Promise.all(workers);
      await producer.close();
    }
    // Every acknowledged message survived the crash (read back from the restarted Redis).
    const stored = new Set((await readIngestBatches(url, 'spms')).flatMap((b) => b.messages.map((m) => m.id)));
    const lost = resolved.filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(resolved.length).toBeGreaterThan(0);
  }, 30_000);
});
