/**
 * A worker process SIGKILLed mid-stream and restarted ends with exactly the outages an
 * uninterrupted run gives (BullMQ hands the dead worker's jobs to the new one; the batch
 * transaction and idempotent inserts make the replay harmless).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { computeLineOutages, type LineReport } from '@spms/outage-engine';
import { INGEST_JOB, type IngestMessage } from '@spms/queue';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './test-support/harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const main = `${root}apps/worker/dist/main.js`;

beforeAll(() => {
  // CI builds first; a developer running this file alone may not have.
  if (!existsSync(main)) spawnSync('npx', ['tsc', '-b', 'apps/worker'], { cwd: root, stdio: 'inherit' });
}, 120_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const BASE = Date.UTC(2026, 10, 1);

function spawnWorker(h: Harness) {
  return spawn(process.execPath, [main], {
    env: {
      ...process.env,
      DATABASE_URL: h.db.url,
      REDIS_URL: h.redis.url,
      REDIS_PREFIX: h.redis.prefix,
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: '4',
      WORKER_LOCK_MS: '2000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('worker killed mid-stream', () => {
  it('produces exactly the expected intervals after SIGKILL and restart', async () => {
    h = await createHarness('kill');
    const devices = [await h.addDevice(), await h.addDevice(), await h.addDevice()];
    // 150 jobs × 10 timestamped line reports: every device's lines flap in a fixed pattern.
    const reports = new Map<string, LineReport[]>();
    const jobs: { name: string; data: { v: 1; messages: IngestMessage[] } }[] = [];
    let n = 0;
    for (let j = 0; j < 150; j++) {
      const messages: IngestMessage[] = [];
      for (let k = 0; k < 10; k++, n++) {
        const dev = devices[n % 3] as string;
        const line = 1 + ((n * 7) % 8);
        const powered = (n * 13) % 5 !== 0;
        const ts = BASE + n * 1000;
        const id = `k${String(n).padStart(6, '0')}`;
        const list = reports.get(`${dev}|${line}`) ?? [];
        list.push({ line, ts, msgId: id, powered });
        reports.set(`${dev}|${line}`, list);
        messages.push({
          kind: 'telemetry',
          id,
          deviceId: dev,
          receivedAt: Date.now(),
          transport: 'mqtt',
          entries: [{ ts, values: { [String(line)]: powered } }],
        });
      }
      jobs.push({ name: INGEST_JOB, data: { v: 1, messages } });
    }
    await h.queue.addBulk(jobs);
    let child = spawnWorker(h);
    for (;;) {
      const c = await h.queue.getJobCounts('completed');
      if ((c.completed ?? 0) >= 40) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = (await h.queue.getJobCounts('completed')).completed ?? 0;
    expect(atKill).toBeLessThan(150);
    child = spawnWorker(h);
    try {
      await h.drained(150, 40_000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect((await h.queue.getJobCounts('failed')).failed ?? 0).toBe(0);
    for (const dev of devices) {
      const want = [...reports.entries()]
        .filter(([k]) => k.startsWith(dev))
        .flatMap(([, list]) => computeLineOutages(list[0]?.line as number, list, []))
        .map((o) => ({ line: o.line, started_at: o.startedAt, ended_at: o.endedAt }))
        .sort((a, b) => a.line - b.line || a.started_at - b.started_at);
      const got = (await h.outages(dev)).map((o) => ({ line: o.line, started_at: o.started_at, ended_at: o.ended_at }));
      expect(want.length).toBeGreaterThan(10);
      expect(got).toEqual(want);
    }
  }, 60_000);
});
