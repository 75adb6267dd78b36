// Pure helpers of `npm run soak`: least-squares slopes, per-window latency from cumulative
// histograms, the verdict, and the Markdown report.
import { LatencyHistogram } from '@spms/simulator';

const MiB = 2 ** 20;
const round = (x, d = 2) =>
  x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d;

/** Slope of y over t (ms) in y-units per 10 minutes, by least squares; null with < 3 points. */
export function slopePer10Min(points) {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 600_000;
}

/** Memory per process: first/last/peak and slopes after the warm-up (samples t in ms, bytes). */
export function summarizeMemory({ heap, rss }, warmupEnd) {
  const after = (xs) => xs.filter((s) => s.t >= warmupEnd);
  const mib = (xs, k) => xs.map((s) => ({ t: s.t, y: s[k] / MiB }));
  const h = after(heap);
  const r = after(rss);
  return {
    heapSamples: heap.length,
    heapUsedMiB: { start: round(heap[0]?.heapUsed / MiB, 1), end: round(heap.at(-1)?.heapUsed / MiB, 1) },
    heapSlopeMiBPer10Min: round(slopePer10Min(mib(h, 'heapUsed'))),
    rssMiB: {
      start: round(rss[0]?.rss / MiB, 1),
      end: round(rss.at(-1)?.rss / MiB, 1),
      peak: round(Math.max(...rss.map((s) => s.rss)) / MiB, 1),
    },
    rssSlopeMiBPer10Min: round(slopePer10Min(mib(r, 'rss'))),
  };
}

/** The latency histogram of one window: cumulative raw now minus cumulative raw at its start. */
export function windowHistogram(rawNow, rawBefore) {
  const h = new LatencyHistogram();
  h.merge({
    counts: rawNow.counts.map((c, i) => c - (rawBefore?.counts[i] ?? 0)),
    count: rawNow.count - (rawBefore?.count ?? 0),
    sum: rawNow.sum - (rawBefore?.sum ?? 0),
    max: 0, // per-window max is not kept; the quantile is capped by the bucket bound instead
  });
  h.max = Number.POSITIVE_INFINITY;
  return h.count
    ? { count: h.count, p50: round(h.quantile(0.5)), p99: round(h.quantile(0.99)) }
    : { count: 0, p50: null, p99: null };
}

export const percentile = (xs, p) => {
  const a = xs.filter((x) => x !== null).sort((x, y) => x - y);
  return a.length ? round(a[Math.min(a.length - 1, Math.floor(p * a.length))], 1) : null;
};

/**
 * Pass/fail: every process alive with heap samples, messages acknowledged and committed; and
 * for runs of 10 minutes or more, each process's retained-heap slope below 1 MiB per 10 min.
 */
export function verdict(result) {
  const problems = [];
  for (const [name, p] of Object.entries(result.processes)) {
    if (!p.aliveAtEnd) problems.push(`${name} died (exit ${p.exitCode ?? '?'})`);
    if (!p.memory.heapSamples) problems.push(`${name} reported no heap samples`);
  }
  if (!(result.totals.acked > 0)) problems.push('no message was acknowledged');
  if (!(result.totals.rowsCommitted > 0)) problems.push('no telemetry row was committed');
  if (result.judgesSlope && result.conditions.fleetOnlineAtS === null)
    problems.push('the fleet never came fully online');
  if (result.judgesSlope) {
    for (const [name, p] of Object.entries(result.processes)) {
      const s = p.memory.heapSlopeMiBPer10Min;
      if (s === null) problems.push(`${name}: too few heap samples for a slope`);
      else if (s >= 1) problems.push(`${name}: retained heap grows ${s} MiB per 10 min after warm-up (limit < 1)`);
    }
  }
  return { ok: problems.length === 0, problems };
}

export function renderMarkdown(r) {
  const c = r.conditions;
  const lines = [
    `# Soak: ${r.minutes} min, ${c.devices} devices`,
    '',
    `${r.startedAt} · ${c.cpu} × ${c.cores} cores · node ${c.node} · load average ${c.loadAverageAtStart.join(' ')} → ${c.loadAverageAtEnd.join(' ')}`,
    `Fleet: ${c.devices} simulated firmware devices (${c.mqttDevices} MQTT QoS 1, ${c.httpDevices} HTTP), voltage every 30 s, ` +
      `outage cycle every ${c.cycleS} s (regional CEB loss, load shedding, flapping lines, power and 4G losses, sags); ` +
      `measured ${c.messagesPerSecond} msg/s acknowledged. Fleet online (≥ 97 % of MQTT sessions) at ${c.fleetOnlineAtS ?? 'never'} s; slopes from ${c.slopesFromS ?? '–'} s (warm-up ${c.warmupS} s).`,
    '',
    '| process | heap start → end MiB | heap slope MiB/10 min | RSS start → end (peak) MiB | RSS slope MiB/10 min |',
    '|---|---|---|---|---|',
    ...Object.entries(r.processes).map(
      ([n, p]) =>
        `| ${n} | ${p.memory.heapUsedMiB.start} → ${p.memory.heapUsedMiB.end} | ${p.memory.heapSlopeMiBPer10Min} | ${p.memory.rssMiB.start} → ${p.memory.rssMiB.end} (${p.memory.rssMiB.peak}) | ${p.memory.rssSlopeMiBPer10Min} |`,
    ),
    '',
    `| window | devices online | acked | PUBACK p99 ms | HTTP 200 p99 ms | probe publish → visible p99 ms | queue waiting max | rows committed | client errors |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...r.windows.map(
      (w) =>
        `| ${w.fromS}–${w.toS} s | ${w.connected} | ${w.acked} | ${w.puback.p99 ?? '–'} | ${w.http.p99 ?? '–'} | ${w.probeVisibleP99Ms ?? '–'} | ${w.queueWaitingMax ?? '–'} | ${w.rowsCommitted} | ${w.errors} |`,
    ),
    '',
    `Verdict: ${r.verdict.ok ? 'pass' : `FAIL — ${r.verdict.problems.join('; ')}`}${r.judgesSlope ? '' : ' (run shorter than 10 min: memory slope reported, not judged)'}`,
    '',
  ];
  return lines.join('\n');
}
