/**
 * PostgreSQL unreachable for a while: jobs fail, wait with back-off and are retried; once
 * the database is back the backlog drains with nothing lost and nothing doubled.
 */
import { createTcpProxy, freePort, type TcpProxy } from '@spms/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.cut();
  await h?.close();
  h = undefined;
});

describe('PostgreSQL outage', () => {
  it('retries with back-off and drains the backlog when the database returns, losing nothing', async () => {
    h = await createHarness('dbdown');
    const dev = await h.addDevice();
    const port = await freePort();
    proxy = createTcpProxy(port, { port: 5432 });
    await proxy.open();
    const url = new URL(h.db.url);
    url.port = String(port);
    await h.start({ DATABASE_URL: url.toString() });
    const base = Date.now();
    const m = (i: number, payload: string) =>
      telemetry(dev, payload, base + i * 1000, `d${String(i).padStart(3, '0')}`);
    await h.enqueue([m(0, "{'1':'true','2':'true'}")]);
    await h.drained(1);

    await proxy.cut();
    // While the database is unreachable: line 2 goes down and comes back, voltage samples.
    await h.enqueue([m(1, "{'2':'false'}")]);
    await h.enqueue([m(2, "{'V':229.1}")]);
    await h.enqueue([m(3, "{'2':'true'}")]);
    const harness = h;
    const end = Date.now() + 10_000;
    for (;;) {
      const c = await harness.queue.getJobCounts('delayed', 'completed');
      if ((c.delayed ?? 0) >= 3) break; // all three failed once and wait for a retry
      if (Date.now() > end) throw new Error(`jobs did not fail while the database was down: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await h.queue.getJobCounts('completed')).completed).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    await proxy.open();
    await h.drained(4, 30_000);
    const counts = await h.queue.getJobCounts('completed', 'failed');
    expect(counts).toEqual({ completed: 4, failed: 0 });
    const outages = await h.outages(dev);
    expect(outages.map((o) => [o.line, o.started_at - base, (o.ended_at ?? 0) - base])).toEqual([[2, 1000, 3000]]);
    const rows = await h.pool.query('SELECT count(*)::int AS n FROM line_events WHERE device_id = $1', [dev]);
    expect(rows.rows[0].n).toBe(4);
    const ev = await h.pool.query(`SELECT type FROM domain_events WHERE type LIKE 'outage%' ORDER BY type`);
    expect(ev.rows.map((r) => r.type)).toEqual(['outage.closed', 'outage.opened']);
  }, 60_000);
});
