/**
 * Load-generator child of the cluster connection benchmark (cluster-connections.ts): opens
 * its slice of idle authenticated connections at a steady rate, from loopback's own source
 * address (unbound) to the broker's port on several destination addresses in turn, timing each CONNACK (from the TCP connect call), holds them, and closes them when
 * told. Talks to the parent over IPC.
 */
import { RawClient } from './raw-client.js';

interface Run {
  port: number;
  tokens: (string | undefined)[];
  tag: string;
  /** Destination addresses, connection i to hosts[i % hosts.length]. */
  hosts: string[];
  ratePerSecond: number;
}

const clients: RawClient[] = [];

async function run(r: Run): Promise<void> {
  const latencies: number[] = [];
  /** [seconds from the start of the ramp when the connect began, CONNACK latency ms]. */
  const timeline: [number, number][] = [];
  const failures: Record<string, number> = {};
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < r.tokens.length; i++) {
    // Paced against the clock, so a slow broker does not slow the arrival rate down.
    const due = t0 + (i * 1000) / r.ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((res) => setTimeout(res, wait));
    const start = performance.now();
    pending.push(
      RawClient.connect({
        port: r.port,
        host: r.hosts[i % r.hosts.length],
        clientId: `${r.tag}-${i}`,
        username: r.tokens[i],
        keepalive: 600,
        connackTimeoutMs: 30_000,
      }).then(
        (c) => {
          latencies.push(performance.now() - start);
          timeline.push([(start - t0) / 1000, performance.now() - start]);
          clients.push(c);
        },
        (err: Error) => {
          const kind = err.message.startsWith('CONNACK')
            ? err.message
            : ((err as { code?: string }).code ?? err.message);
          failures[kind] = (failures[kind] ?? 0) + 1;
        },
      ),
    );
  }
  const rampS = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  process.send?.({ cmd: 'ramped', held: clients.length, latencies, timeline, failures, rampS });
}

process.on('message', (m: { cmd: 'run'; run: Run } | { cmd: 'count' } | { cmd: 'close' }) => {
  if (m.cmd === 'run') void run(m.run);
  else if (m.cmd === 'count') process.send?.({ cmd: 'count', open: clients.filter((c) => !c.closed).length });
  else {
    for (const c of clients) c.close();
    process.exit(0);
  }
});
// The parent went away (ended or killed): do not keep its sockets open.
process.on('disconnect', () => process.exit(0));
