/**
 * The API bench's HTTP load generator, run in a worker thread: its clients read every answer
 * (0.37 MB each for the cached status) on their own event loop, not on the one of the API
 * under test (the bench builds the app in its own process), so the latencies are the
 * server's answer times plus loopback, not the server's time plus the clients' reading.
 * Bodies are read but not decompressed. Each run starts with `warmupMs` (default 1 s) of the
 * same load that is not counted: a fresh thread's HTTP client is not compiled yet, and a
 * freshly started API answers its first seconds of load markedly slower (JIT, heap growth:
 * p99 170 → 50-90 ms over its first 20 s in one run at load average 8), which is not the
 * steady state a long-running API serves in.
 */
import { Agent, request } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface LoadResult {
  /** latencies, ms, sorted */
  lat: number[];
  errors: number;
  elapsed: number;
  /** size of the last answer */
  bytes: number;
  /** status and headers of the first answer that was neither 200 nor 304 */
  firstError?: string;
}

interface Job {
  url: string;
  clients: number;
  seconds: number;
  headers: Record<string, string>;
  warmupMs: number;
}

/** `clients` keep-alive clients asking `url` back to back for `seconds`, in a worker thread. */
export function load(
  url: string,
  clients: number,
  seconds: number,
  headers: Record<string, string>,
  warmupMs = 1000,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const job: Job = { url, clients, seconds, headers, warmupMs };
    const w = new Worker(new URL(import.meta.url), { workerData: { job } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited ${code}`));
    });
  });
}

function get(
  url: string,
  agent: Agent,
  headers: Record<string, string>,
): Promise<{ status: number; bytes: number; head: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, bytes, head: `${res.statusCode} ${JSON.stringify(res.headers)}` }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function run({ url, clients, seconds, headers, warmupMs }: Job): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const warm = Date.now() + warmupMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < warm) await get(url, agent, headers);
    }),
  );
  const lat: number[] = [];
  const result: LoadResult = { lat, errors: 0, elapsed: 0, bytes: 0 };
  const end = Date.now() + seconds * 1000;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        const s = performance.now();
        const res = await get(url, agent, headers);
        lat.push(performance.now() - s);
        result.bytes = res.bytes;
        if (res.status !== 200 && res.status !== 304) {
          result.errors += 1;
          result.firstError ??= res.head;
        }
      }
    }),
  );
  agent.destroy();
  lat.sort((a, b) => a - b);
  result.elapsed = (Date.now() - t0) / 1000;
  return result;
}

if (!isMainThread && (workerData as { job?: Job } | null)?.job) {
  const { job } = workerData as { job: Job };
  run(job).then((r) => parentPort?.postMessage(r));
}
