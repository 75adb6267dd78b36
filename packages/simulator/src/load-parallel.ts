/** Splits a load test over child processes (each with its own fd limit) and merges the results. */
import { fork } from 'node:child_process';
import type { LoadTestOptions, LoadTestResult } from './load-test.js';
import { SimStats } from './stats.js';

export async function loadTestParallel(opts: LoadTestOptions & { workers: number }): Promise<LoadTestResult> {
  const { workers, onProgress: _p, signal, ...rest } = opts;
  const per = Math.ceil(opts.devices / workers);
  const slices = Array.from({ length: workers }, (_, w) => ({
    offset: w * per,
    count: Math.min(per, opts.devices - w * per),
  })).filter((s) => s.count > 0);
  const results = await Promise.all(
    slices.map(
      ({ offset, count }) =>
        new Promise<LoadTestResult>((resolve, reject) => {
          const child = fork(new URL('./load-worker.js', import.meta.url), [], {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          const abort = () => child.send({ cmd: 'abort' });
          signal?.addEventListener('abort', abort, { once: true });
          child.once('message', (m: { ok: boolean; result?: LoadTestResult; error?: string }) => {
            signal?.removeEventListener('abort', abort);
            if (m.ok && m.result) resolve(m.result);
            else reject(new Error(`load worker: ${m.error}`));
          });
          child.once('exit', (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
          child.send({
            cmd: 'run',
            opts: {
              ...rest,
              devices: count,
              indexOffset: offset,
              rate: (opts.rate * count) / opts.devices,
              rampPerSecond: ((rest.rampPerSecond ?? 1000) * count) / opts.devices,
              sourceAddresses: rest.sourceAddresses ?? Math.max(1, Math.ceil(opts.devices / 20_000)),
            },
          });
        }),
    ),
  );
  const stats = new SimStats();
  for (const r of results) if (r.raw) stats.merge(r.raw);
  const sum = (f: (r: LoadTestResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const peak = sum((r) => r.connectedPeak);
  return {
    devices: opts.devices,
    connectedPeak: peak,
    rampSeconds: Math.max(...results.map((r) => r.rampSeconds)),
    durationS: Math.max(...results.map((r) => r.durationS)),
    ratePlanned: opts.rate,
    rateAchieved: sum((r) => r.rateAchieved),
    skippedForBackpressure: sum((r) => r.skippedForBackpressure),
    memory: {
      rssMB: Math.round(sum((r) => r.memory.rssMB) * 10) / 10,
      heapUsedMB: Math.round(sum((r) => r.memory.heapUsedMB) * 10) / 10,
      perConnectionKB: peak ? Math.round((sum((r) => r.memory.perConnectionKB * r.connectedPeak) / peak) * 10) / 10 : 0,
    },
    stats: stats.toJSON(),
    workers: slices.length,
  };
}
