/**
 * What a fault did to the data: every acknowledged message looked up in line_events (by
 * device and ts), messages stored more than once, and outages compared with what the
 * stored reports give in timestamp order (a doubled or missing outage shows there).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type pg from 'pg';
import { repoRoot } from './app-process.js';
import type { Ledger } from './devices.js';

export interface FaultRow {
  fault: string;
  acknowledged: number;
  recorded: number;
  lost: number;
  /** Messages stored more than once (a resend of a message that was stored but not acknowledged). */
  duplicates: number;
  /** Outages recorded more than once, or not as the stored reports give them. */
  doubledOutages: number;
  outages: number;
  /** Seconds from the component's return to the first acknowledgement / the first recorded message. */
  ackRecoveryS: number | null;
  recordRecoveryS: number | null;
  /** Lost acknowledged messages, for the failure message (a few). */
  lostSample: string[];
  /** Processes that died by themselves during the scenario (they must not). */
  crashes?: string[];
  note?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `everyMs` until it holds; false after `timeoutMs`. */
export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
}

/**
 * Recovery after the component came back at `since`: first acknowledgement received and
 * first message received (broker/API time) after it recorded. Null when not seen in time.
 */
export async function measureRecovery(sql: pg.Pool, ledger: Ledger, since: number, timeoutMs = 60_000) {
  let ack: number | null = null;
  let rec: number | null = null;
  await waitFor(
    async () => {
      if (ack === null && ledger.ackedSince(since) > 0) ack = Date.now() - since;
      if (rec === null) {
        const { rows } = await sql.query(
          'SELECT EXISTS (SELECT 1 FROM line_events WHERE received_at >= to_timestamp($1 / 1000.0)) AS e',
          [since],
        );
        if (rows[0].e) rec = Date.now() - since;
      }
      return ack !== null && rec !== null;
    },
    timeoutMs,
    50,
  );
  return { ackRecoveryS: secs(ack), recordRecoveryS: secs(rec) };
}

const secs = (ms: number | null) => (ms === null ? null : Math.round(ms / 100) / 10);

interface Report {
  device_id: string;
  ts: number;
  powered: boolean;
}

async function loadReports(sql: pg.Pool): Promise<Report[]> {
  const { rows } = await sql.query<Report>(
    `SELECT device_id::text, (extract(epoch from ts) * 1000)::float8 AS ts, powered
       FROM line_events WHERE line = 3 ORDER BY device_id, ts`,
  );
  return rows.map((r) => ({ ...r, ts: Math.round(r.ts) }));
}

/** Every acknowledged message is in line_events (bounded wait for the worker to catch up). */
export async function waitRecorded(sql: pg.Pool, ledger: Ledger, timeoutMs: number): Promise<void> {
  const acked = ledger.acked();
  await waitFor(
    async () => {
      const stored = new Set((await loadReports(sql)).map((r) => `${r.device_id}|${r.ts}`));
      return acked.every((m) => stored.has(`${m.deviceId}|${m.ts}`));
    },
    timeoutMs,
    500,
  );
}

/** Outage intervals of line 3 that in-order delivery of these (distinct) reports gives. */
function expectedOutages(reports: Report[]): string[] {
  const out: string[] = [];
  let prev: Report | undefined;
  let openAt: number | null = null;
  for (const r of reports) {
    if (prev?.device_id !== r.device_id) {
      if (prev && openAt !== null) out.push(`${prev.device_id}|${openAt}|open`);
      prev = r;
      openAt = null;
      continue; // the first report only establishes the state
    }
    if (r.ts === prev.ts) continue; // the same message stored twice
    if (prev.powered && !r.powered) openAt = r.ts;
    else if (!prev.powered && r.powered && openAt !== null) {
      out.push(`${r.device_id}|${openAt}|${r.ts}`);
      openAt = null;
    }
    prev = r;
  }
  if (prev && openAt !== null) out.push(`${prev.device_id}|${openAt}|open`);
  return out.sort();
}

export async function measureFault(
  fault: string,
  sql: pg.Pool,
  ledger: Ledger,
  recovery: { ackRecoveryS: number | null; recordRecoveryS: number | null },
): Promise<FaultRow> {
  const reports = await loadReports(sql);
  const counts = new Map<string, number>();
  for (const r of reports) counts.set(`${r.device_id}|${r.ts}`, (counts.get(`${r.device_id}|${r.ts}`) ?? 0) + 1);
  const acked = ledger.acked();
  const lost = acked.filter((m) => !counts.has(`${m.deviceId}|${m.ts}`));
  let duplicates = 0;
  for (const n of counts.values()) duplicates += n - 1;

  const { rows } = await sql.query<{ k: string }>(
    `SELECT device_id::text || '|' || round(extract(epoch from started_at) * 1000)::text || '|' ||
            coalesce(round(extract(epoch from ended_at) * 1000)::text, 'open') AS k
       FROM outages WHERE line = 3`,
  );
  const got = rows.map((r) => r.k).sort();
  const want = expectedOutages(reports);
  // Multiset difference both ways: an outage recorded twice, or one that should not exist.
  const remaining = new Map<string, number>();
  for (const k of want) remaining.set(k, (remaining.get(k) ?? 0) + 1);
  let extra = 0;
  for (const k of got) {
    const n = remaining.get(k) ?? 0;
    if (n > 0) remaining.set(k, n - 1);
    else extra++;
  }
  let missing = 0;
  for (const n of remaining.values()) missing += n;

  return {
    fault,
    acknowledged: acked.length,
    recorded: acked.length - lost.length,
    lost: lost.length,
    duplicates,
    doubledOutages: extra + missing,
    outages: got.length,
    ...recovery,
    lostSample: lost.slice(0, 5).map((m) => `${m.deviceId} ts=${m.ts} acked=${m.ackedAt}`),
  };
}

/** Prints the matrix and writes test-artifacts/fault-matrix.json. */
export function reportMatrix(rows: FaultRow[], conditions: Record<string, unknown>): void {
  const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(1));
  const lines = [
    '| fault | acknowledged | recorded | lost | duplicates | doubled outages | outages | acks back (s) | records back (s) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.fault} | ${r.acknowledged} | ${r.recorded} | ${r.lost} | ${r.duplicates} | ${r.doubledOutages} | ${r.outages} | ${fmt(r.ackRecoveryS)} | ${fmt(r.recordRecoveryS)} |`,
    ),
  ];
  const notes = rows.filter((r) => r.note).map((r) => `${r.fault}: ${r.note}`);
  console.log(`\nFault matrix (${JSON.stringify(conditions)})\n${[...lines, ...notes].join('\n')}\n`);
  const dir = `${repoRoot}test-artifacts`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}/fault-matrix.json`,
    `${JSON.stringify({ at: new Date().toISOString(), conditions, rows }, null, 2)}\n`,
  );
}
