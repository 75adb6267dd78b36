/**
 * The reliability-report part of bench:api: a one-year report by region over real HTTP,
 * answered from each of BENCH_REPORTS_FROM (default "raw,day,rollup": the oldest path over
 * raw outage rows, the per-device day rollups, and the default that sums the group rollups
 * per region, customer and day, measured in the same run on the same data): sequential
 * runs, one with major event days (five years of daily SAIDI), then BENCH_REPORT_CLIENTS at
 * once. Checks that every path gives the same report. Each figure is printed with the load
 * average at that moment (the machine is shared).
 */
import { loadavg } from 'node:os';
import { createLogger } from '@spms/log';
import { buildApp } from '../app.js';
import { loadApiConfig } from '../config.js';

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

export interface ReportBenchOptions {
  dbUrl: string;
  redisUrl: string;
  redisPrefix: string;
  key: string;
  runs: number;
  clients: number;
}

export async function benchReports(o: ReportBenchOptions): Promise<void> {
  const sources = (process.env.BENCH_REPORTS_FROM ?? 'raw,day,rollup').split(',') as ('raw' | 'day' | 'rollup')[];
  const to = new Date();
  const from = new Date(to.getTime() - 365 * 86_400_000);
  const answers = new Map<string, string>();
  const figures: string[] = [];
  for (const source of sources) {
    const app = await buildApp(
      loadApiConfig({
        DATABASE_URL: o.dbUrl,
        REDIS_URL: o.redisUrl,
        REDIS_PREFIX: o.redisPrefix,
        LOG_LEVEL: 'warn',
        SPMS_ADMIN_API_KEY: o.key,
        REPORTS_FROM: source,
        API_RATE_LIMIT_MAX: '0',
        API_RATE_LIMIT_PER_IP_MAX: '0',
      }),
      { logger: createLogger({ level: 'warn', name: 'bench-reports' }) },
    );
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: `Bearer ${o.key}` };
    const url = `${base}/api/reports/reliability?groupBy=region&from=${from.toISOString()}&to=${to.toISOString()}`;
    const timed = async (u: string) => {
      const s = performance.now();
      const res = await fetch(u, { headers });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`report answered ${res.status}: ${body.slice(0, 200)}`);
      return { ms: performance.now() - s, body };
    };
    try {
      const seq: number[] = [];
      for (let i = 0; i < o.runs; i++) {
        const r = await timed(url);
        seq.push(r.ms);
        answers.set(source, r.body);
      }
      seq.sort((a, b) => a - b);
      const med = await timed(`${url}&excludeMajorEvents=true`);
      const conc = (await Promise.all(Array.from({ length: o.clients }, () => timed(url)))).map((r) => r.ms);
      conc.sort((a, b) => a - b);
      figures.push(
        `year reliability report by region from ${source} (REPORTS_FROM=${source}): sequential (${o.runs} runs) p50 ${fmt(pct(seq, 50))}, max ${fmt(seq.at(-1) ?? NaN)}; with excludeMajorEvents=true ${fmt(med.ms)}; ${o.clients} concurrent p50 ${fmt(pct(conc, 50))}, max ${fmt(conc.at(-1) ?? NaN)} (load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')})`,
      );
      console.log(figures.at(-1));
    } finally {
      await app.close();
    }
  }
  if (answers.size > 1) {
    const [first, ...rest] = [...answers.values()];
    console.log(`  same report from ${sources.join(' and ')}: ${rest.every((b) => b === first) ? 'yes' : 'NO'}`);
  }
}
