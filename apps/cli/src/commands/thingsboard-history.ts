/**
 * One device's history, ThingsBoard → SPMS, in time windows: every key's readings of the
 * window (paged), merged by timestamp, posted to POST /api/devices/:name/telemetry in
 * batches that end where every line is on, then recorded as done in SPMS
 * (…/telemetry/import-progress). A re-run
 * resumes after the last window recorded; re-posting a window is harmless (SPMS stores each
 * reading once), so an interruption between a post and its record loses nothing.
 */
import { CliError } from '../errors.js';
import type { ApiClient } from '../http.js';
import { type Entry, type LineStates, planBatches } from './thingsboard-batches.js';
import type { ThingsBoardClient } from './thingsboard-client.js';
import { mergeSeries } from './thingsboard-map.js';

/** Entries per SPMS request (the endpoint takes up to 10,000). */
const BATCH = 10_000;
const WINDOW_MS = 7 * 86_400_000;

export interface HistoryPlan {
  tbId: string;
  name: string;
  since: number;
  until: number;
  mode: 'lines' | 'all';
  /** Readings per ThingsBoard call. */
  pageLimit: number;
}

export interface HistoryOutcome {
  keys: string[];
  readings: number;
  entries: number;
  resumedFrom: number | null;
}

interface Progress {
  source: string | null;
  from: number | null;
  through: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SPMS calls that a busy queue may answer 503: retried a few times. */
async function withRetry<T>(fn: () => Promise<T>, delayMs: number): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const status = err instanceof CliError ? err.status : undefined;
      if ((status !== 503 && status !== 429) || attempt >= 5) throw err;
      await sleep(delayMs * 2 ** attempt);
    }
  }
}

export async function importHistory(
  tb: ThingsBoardClient,
  spms: ApiClient,
  plan: HistoryPlan,
  retryDelayMs: number,
  log: (line: string) => void,
  /** After each window: the span it covered (ms; a resumed import skips to its first) and the readings so far. */
  onWindow: (coveredMs: number, readings: number) => void = () => {},
): Promise<HistoryOutcome> {
  const path = `/api/devices/${encodeURIComponent(plan.name)}/telemetry`;
  const source = `${tb.base}/device/${plan.tbId}`.slice(0, 200);
  const all = await tb.get<string[]>(
    `listing the series of ${plan.name}`,
    `/api/plugins/telemetry/DEVICE/${plan.tbId}/keys/timeseries`,
  );
  const keys = plan.mode === 'lines' ? all.filter((k) => /^[1-8]$/.test(k)) : all;
  const progress = await spms.request<Progress>('GET', `${path}/import-progress`);
  // Resume only a span of the same source that started no later than this one.
  const resumable =
    progress.source === source &&
    progress.from !== null &&
    progress.through !== null &&
    progress.from <= plan.since &&
    progress.through >= plan.since;
  const spanFrom = resumable ? (progress.from as number) : plan.since;
  let start = resumable ? (progress.through as number) + 1 : plan.since;
  const out: HistoryOutcome = { keys, readings: 0, entries: 0, resumedFrom: resumable ? start : null };
  if (keys.length === 0) {
    onWindow(Math.max(0, plan.until - plan.since), 0);
    return out;
  }
  if (start > plan.since) onWindow(Math.min(start, plan.until) - plan.since, 0);
  // Batches end where every line is on (thingsboard-batches.ts); the rest waits in `carry`.
  const states: LineStates = new Map();
  let carry: Entry[] = [];
  while (start <= plan.until) {
    const end = Math.min(start + WINDOW_MS - 1, plan.until);
    const series: Record<string, { ts: number; value: unknown }[]> = {};
    for (const key of keys) {
      series[key] = await tb.series(plan.tbId, key, start, end, plan.pageLimit, plan.name);
      out.readings += series[key]?.length ?? 0;
    }
    const planned = planBatches([...carry, ...mergeSeries(series)], states, BATCH, end >= plan.until);
    for (const batch of planned.batches) {
      // wait: SPMS answers once its worker stored the batch, so the next one is evaluated after it.
      const res = await withRetry(
        () => spms.request<{ stored: boolean; through: number }>('POST', path, { json: batch, query: { wait: true } }),
        retryDelayMs,
      );
      // A backlogged worker: keep waiting, or the next batch could be evaluated before this one.
      for (let polls = 0; !res.stored; polls++) {
        if (polls % 30 === 0) log(`history ${plan.name}: waiting for SPMS's worker to store the batch (a backlog?)`);
        await sleep(2000);
        res.stored = (
          await spms.request<{ stored: boolean }>('GET', `${path}/stored`, { query: { ts: res.through } })
        ).stored;
      }
      out.entries += batch.length;
    }
    carry = planned.carry;
    // Recorded up to what was posted: a resumed import fetches the carried part again.
    const through = carry.length > 0 ? (carry[0] as Entry).ts - 1 : end;
    if (planned.batches.length > 0 && through >= spanFrom)
      await withRetry(
        () => spms.request('PUT', `${path}/import-progress`, { json: { source, from: spanFrom, through } }),
        retryDelayMs,
      );
    onWindow(end + 1 - start, out.readings);
    start = end + 1;
  }
  return out;
}
